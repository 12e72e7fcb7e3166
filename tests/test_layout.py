"""The tests mirror the package: every folder of ``projects/risam/`` and of
``projects/risam/models/`` has its own test folder with tests in it."""
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / 'projects/risam'


def _folders(parent: Path):
    return sorted(p.name for p in parent.iterdir()
                  if p.is_dir() and (p / '__init__.py').exists())


def test_every_package_folder_has_a_test_folder_with_tests():
    expected = [REPO / 'tests' / f'test_{name}' for name in _folders(PACKAGE)]
    expected += [REPO / 'tests/test_models' / f'test_{name}'
                 for name in _folders(PACKAGE / 'models')]
    missing = [str(p.relative_to(REPO)) for p in expected
               if not any(p.glob('test_*.py'))]
    assert not missing, f'package folders without tests: {missing}'
    assert len(expected) == 18  # 10 package folders, 8 model folders
