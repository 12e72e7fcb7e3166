"""The lint gate (``make lint``, run by CI): ruff with the project's settings
passes on the tree and fails on what it is there to catch."""
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, '-m', 'ruff', 'check', '--no-cache',
         '--config', str(REPO / 'pyproject.toml'), '--output-format',
         'concise', *args],
        cwd=REPO, capture_output=True, text=True)


def test_tree_passes():
    result = ruff('.')
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize('source, code', [
    # the project's own package among the third-party imports
    ('import torch\nfrom projects.risam.registry import MODELS\n'
     'import numpy as np\n\nprint(torch, MODELS, np)\n', 'I001'),
    ("__all__ = ['b', 'a']\na = b = 1\n", 'RUF022'),
    ('import os\n', 'F401'),
])
def test_gate_fails_on(tmp_path, source, code):
    bad = tmp_path / 'bad.py'
    bad.write_text(source)
    result = ruff(str(bad))
    assert result.returncode == 1, result.stdout + result.stderr
    assert f'{code} ' in result.stdout, result.stdout


def test_ci_runs_the_gate():
    """CI calls ``make lint`` before ``make test``; ``make lint`` runs the
    same ruff check as the pre-commit hook."""
    ci = (REPO / '.ci' / 'run').read_text()
    assert ci.index('make lint') < ci.index('make test')
    make = (REPO / 'Makefile').read_text()
    assert '$(BIN)/ruff check .' in make
    hook = (REPO / '.pre-commit-config.yaml').read_text()
    assert 'entry: ruff check' in hook
