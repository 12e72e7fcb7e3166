"""configs/risam/README.md names every config, and every config it names
exists and loads; the top-level README stays short and its links resolve."""
import re
from pathlib import Path

import pytest
from mmengine.config import Config

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / 'configs' / 'risam'
README = CONFIGS / 'README.md'
MARKDOWN = [REPO / 'README.md', README, CONFIGS / 'ablations' / 'README.md',
            *sorted((REPO / 'docs').glob('*.md'))]


def _linked():
    return sorted(set(re.findall(r'\]\(([^)\s]+\.py)\)', README.read_text())))


def test_readme_names_every_config():
    named = {(CONFIGS / p).resolve() for p in _linked()}
    on_disk = {p.resolve() for p in CONFIGS.rglob('*.py')
               if '_base_' not in p.parts}
    assert on_disk - named == set()  # every config is in a table
    assert named - on_disk == set()  # every link is a config file


@pytest.mark.parametrize('path', _linked())
def test_named_config_exists_and_loads(path):
    cfg = Config.fromfile(str(CONFIGS / path))
    assert cfg.model.type == 'risam.RISAM'
    assert cfg.test_dataloader.dataset.type.startswith('risam.')


def test_every_cell_labels_the_paper_number():
    rows = [ln for ln in README.read_text().splitlines()
            if ln.startswith('| ') and '.py)' in ln]
    labels = ('| paper |', '| derived |', '| not in the paper |')
    assert rows and all(sum(lab in ln for lab in labels) == 1
                        for ln in rows)
    assert sum('| paper |' in ln for ln in rows) > 100


def _relative_links(path):
    """Targets of the Markdown links and images of one file that are not
    URLs or anchors, without their #fragment."""
    text = re.sub(r'```.*?```', '', path.read_text(), flags=re.S)
    targets = re.findall(r'\]\(([^)\s]+)\)', text)
    return [t.split('#')[0] for t in targets
            if not re.match(r'[a-z]+:', t) and not t.startswith('#')]


@pytest.mark.parametrize('path', MARKDOWN, ids=lambda p: str(p.relative_to(
    REPO)))
def test_every_relative_link_resolves_to_a_file(path):
    links = _relative_links(path)
    if path.name == 'README.md':
        assert links, path
    for target in links:
        resolved = (path.parent / target).resolve()
        assert resolved.exists(), f'{path.name}: {target}'
        assert REPO in resolved.parents, f'{path.name}: {target}'


def test_top_level_readme_is_short():
    assert len((REPO / 'README.md').read_bytes()) <= 16_000
