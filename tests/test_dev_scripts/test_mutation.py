""".dev_scripts/mutation.py: test lists, verdict bookkeeping and the kill rate."""
import json
import runpy

from .conftest import REPO

M = runpy.run_path(str(REPO / '.dev_scripts/mutation.py'))


def test_test_selection_lists_files_and_the_mutants_file(tmp_path):
    for name in ('test_focal_dice_loss.py', 'test_equations_loss.py'):
        (tmp_path / 'tests/test_models').mkdir(parents=True, exist_ok=True)
        (tmp_path / 'tests/test_models' / name).write_text('')
    sel = M['test_selection'](tmp_path, 'losses')
    assert sel == ['tests/test_models/test_focal_dice_loss.py',
                   'tests/test_models/test_equations_loss.py']
    (tmp_path / 'tests/test_models/test_mutants_losses.py').write_text('')
    assert M['test_selection'](tmp_path, 'losses')[-1] == \
        'tests/test_models/test_mutants_losses.py'


def test_keep_kills_restores_only_cleared_kills(tmp_path):
    meta = tmp_path / 'mutants/projects/x.py.meta'
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps(dict(exit_code_by_key=dict(
        a=None, b=0, c=None, d=1))))
    M['keep_kills'](tmp_path, dict(a=1, b=1, c=0, d=1))
    codes = json.loads(meta.read_text())['exit_code_by_key']
    # a: killed before, cleared -> killed; b: rerun and survived -> kept;
    # c: survived before, cleared -> still unchecked
    assert codes == dict(a=1, b=0, c=None, d=1)


def test_summarise_counts_timeouts_as_kills():
    row = M['summarise']({'m1': 1, 'm2': 3, 'm3': -24, 'm4': 0, 'm5': 33,
                          'm6': None, 'm7': 1, 'm8': 1}, 90.4)
    assert (row['total'], row['killed_or_timeout'], row['survived'],
            row['no tests'], row['not checked']) == (8, 5, 1, 1, 1)
    assert row['rate'] == 62.5 and row['seconds'] == 90
