"""tools/train.py and tools/test.py: what users get wrong in a config or
``--cfg-options`` is one line naming the key, before the model is built;
``--debug`` shows the traceback."""
import runpy
import subprocess
import sys

import pytest

from projects.risam.utils.config_check import ConfigError

from .conftest import DEMO_CONFIG, REPO, data_options


def test_train_persistent_workers_without_workers_exits_in_one_line(
        refshapes_root, tmp_path):
    """The acceptance command, as a user runs it."""
    run = subprocess.run(
        [sys.executable, 'tools/train.py', str(DEMO_CONFIG), '--work-dir',
         str(tmp_path / 'work'), '--cfg-options',
         'train_dataloader.num_workers=0', *data_options(refshapes_root)],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1] == (
        'train.py: error: train_dataloader.persistent_workers=True needs '
        'train_dataloader.num_workers > 0 (it is 0): also set '
        'train_dataloader.persistent_workers=False')
    assert 'Traceback' not in run.stderr
    assert not (tmp_path / 'work').exists()  # stopped before the runner


def test_train_debug_shows_the_traceback(refshapes_root, tmp_path):
    argv = sys.argv
    sys.argv = ['train.py', str(DEMO_CONFIG), '--work-dir', str(tmp_path),
                '--debug', '--cfg-options', 'train_dataloader.num_workers=0',
                *data_options(refshapes_root)]
    try:
        with pytest.raises(ConfigError, match='persistent_workers'):
            runpy.run_path(str(REPO / 'tools/train.py'), run_name='__main__')
    finally:
        sys.argv = argv


def test_train_names_a_dataloader_key_that_does_not_exist(tool_exit, refshapes_root,
                                                          tmp_path):
    msg = tool_exit('train.py', DEMO_CONFIG, '--work-dir', tmp_path,
                    '--cfg-options', 'val_dataloader.num_worker=0',
                    *data_options(refshapes_root))
    assert msg.startswith('train.py: error: val_dataloader.num_worker: no '
                          'such dataloader key')
    assert '\n' not in msg


def test_train_names_a_missing_data_folder(tool_exit, refshapes_root, tmp_path):
    missing = tmp_path / 'no_data'
    msg = tool_exit('train.py', DEMO_CONFIG, '--work-dir', tmp_path / 'w',
                    '--cfg-options', *data_options(refshapes_root),
                    f'train_dataloader.dataset.data_root={missing}')
    assert msg == (f'train.py: error: train_dataloader.dataset.data_root: '
                   f'data folder {missing} not found (generate or download '
                   'it, or give --cfg-options '
                   'train_dataloader.dataset.data_root=DIR)')


def test_train_names_a_model_key_that_does_not_exist(tool_exit, refshapes_root,
                                                     tmp_path):
    msg = tool_exit('train.py', DEMO_CONFIG, '--work-dir', tmp_path,
                    '--cfg-options', 'model.decode_head.tua=0.5',
                    *data_options(refshapes_root))
    assert msg.startswith('train.py: error: --cfg-options '
                          'model.decode_head.tua: no such argument (')
    assert msg.endswith("unexpected keyword argument 'tua')")
    assert '\n' not in msg


def test_test_tool_names_the_test_loaders_clash_and_data_folder(tool_exit,
        refshapes_root, tiny_checkpoint, tmp_path):
    msg = tool_exit('test.py', DEMO_CONFIG, tiny_checkpoint, '--work-dir',
                    tmp_path, '--cfg-options', *data_options(refshapes_root),
                    'test_dataloader.num_workers=0',
                    'test_dataloader.persistent_workers=True')
    assert msg.startswith('test.py: error: test_dataloader.persistent_workers'
                          '=True needs test_dataloader.num_workers > 0')
    msg = tool_exit('test.py', DEMO_CONFIG, tiny_checkpoint, '--work-dir',
                    tmp_path, '--cfg-options',
                    f'test_dataloader.dataset.data_root={tmp_path / "none"}')
    assert msg.startswith('test.py: error: test_dataloader.dataset.data_root:'
                          f' data folder {tmp_path / "none"} not found')
