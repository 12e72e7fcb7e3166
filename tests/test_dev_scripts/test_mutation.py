""".dev_scripts/mutation.py: test lists, verdict bookkeeping and the kill rate."""
import json
import runpy

import pytest

from .conftest import REPO

M = runpy.run_path(str(REPO / '.dev_scripts/mutation.py'))


def test_test_selection_lists_a_folder_then_files_once(tmp_path):
    models = tmp_path / 'tests/test_models'
    for name in ('test_necks/test_b.py', 'test_necks/test_a.py',
                 'test_necks/helper.py', 'test_ablations_modules.py'):
        (models / name).parent.mkdir(parents=True, exist_ok=True)
        (models / name).write_text('')
    # the folder's test files sorted, then the named file; no helpers
    assert M['test_selection'](tmp_path, 'necks') == [
        'tests/test_models/test_necks/test_a.py',
        'tests/test_models/test_necks/test_b.py',
        'tests/test_models/test_ablations_modules.py']


def test_test_selection_stops_on_a_missing_file(tmp_path):
    (tmp_path / 'tests/test_models/test_decode_heads').mkdir(parents=True)
    with pytest.raises(SystemExit, match='decode_heads: no test file '
                       'tests/test_models/test_necks/test_ablations_pos_embed.py'):
        M['test_selection'](tmp_path, 'decode_heads')


def test_every_listed_test_exists_in_this_checkout():
    for module in M['MODULES']:
        assert M['test_selection'](REPO, module), module


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
