"""configs/risam/README.md names every config, and every config it names
exists and loads."""
import re
from pathlib import Path

import pytest
from mmengine.config import Config

CONFIGS = Path(__file__).resolve().parents[1] / 'configs' / 'risam'
README = CONFIGS / 'README.md'


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
    assert rows and all(ln.endswith(('(paper) |', '| not in the paper |'))
                        for ln in rows)
    assert sum(ln.endswith('(paper) |') for ln in rows) > 80
