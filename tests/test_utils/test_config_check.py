"""config_check and the one-line errors of run_tool on known configs."""
import sys

import pytest
from mmengine.config import Config

from projects.risam.utils.cli import cfg_option_keys, run_tool
from projects.risam.utils.config_check import (
    DATALOADER_KEYS,
    ConfigError,
    check_data_roots,
    check_dataloaders,
    check_run_config,
    unknown_key_message,
)


def _cfg(**loader):
    return Config(dict(train_dataloader=dict(
        batch_size=2, num_workers=0, dataset=dict(type='X'), **loader)))


def test_dataloader_keys_are_torchs_and_mmengines():
    assert {'batch_size', 'num_workers', 'persistent_workers',
            'prefetch_factor', 'dataset', 'sampler', 'collate_fn',
            'num_batch_per_epoch'} <= DATALOADER_KEYS
    assert 'self' not in DATALOADER_KEYS and 'num_workerz' not in DATALOADER_KEYS


@pytest.mark.parametrize('loader,message', [
    (dict(persistent_workers=True), 'train_dataloader.persistent_workers=True '
     'needs train_dataloader.num_workers > 0 (it is 0): also set '
     'train_dataloader.persistent_workers=False'),
    (dict(prefetch_factor=2), 'train_dataloader.prefetch_factor=2 needs '
     'train_dataloader.num_workers > 0 (it is 0): also set '
     'train_dataloader.prefetch_factor=None'),
    (dict(shuffle_me=True), 'train_dataloader.shuffle_me: no such '
     'dataloader key'),
])
def test_clashes_and_unknown_keys_are_named(loader, message):
    with pytest.raises(ConfigError) as e:
        check_dataloaders(_cfg(**loader), ['train_dataloader'])
    assert str(e.value).startswith(message)


def test_what_is_allowed_passes():
    check_dataloaders(_cfg(persistent_workers=False, prefetch_factor=None),
                      ['train_dataloader'])
    cfg = _cfg(persistent_workers=True)
    cfg.train_dataloader.num_workers = 2
    check_dataloaders(cfg, ['train_dataloader'])
    # a loader the run does not use is not checked, an absent one skipped
    check_dataloaders(_cfg(persistent_workers=True), ['val_dataloader'])


def test_data_roots_of_wrapped_datasets(tmp_path):
    cfg = Config(dict(val_dataloader=dict(dataset=dict(
        type='ConcatDataset', datasets=[
            dict(type='A', data_root=str(tmp_path)),
            dict(type='RepeatDataset', dataset=dict(
                type='B', data_root=str(tmp_path / 'gone')))]))))
    with pytest.raises(ConfigError, match=r'^val_dataloader\.dataset\.'
                       r'datasets\.1\.dataset\.data_root: data folder '
                       f'{tmp_path}/gone not found'):
        check_run_config(cfg, ['val_dataloader'])
    (tmp_path / 'gone').mkdir()
    check_data_roots(cfg, ['val_dataloader'])


def test_cfg_option_keys_of_a_command_line():
    argv = ['c.py', '--cfg-options', 'a.b=1', 'c=[1,2]', '--debug',
            '--work-dir', 'w', '--cfg-options', 'd.e=x=y']
    assert cfg_option_keys(argv) == ['a.b', 'c', 'd.e']
    assert cfg_option_keys(['c.py', 'a.b=1']) == []


def test_unknown_key_message_names_the_option_or_the_key():
    error = TypeError("class `Head` in x.py: Head.__init__() got an "
                      "unexpected keyword argument 'tua'")
    assert unknown_key_message(error, ['model.head.tua', 'x']) == (
        "--cfg-options model.head.tua: no such argument (class `Head` in "
        "x.py: Head.__init__() got an unexpected keyword argument 'tua')")
    assert unknown_key_message(error).startswith("config key 'tua': no such")
    assert unknown_key_message(TypeError('unsupported operand')) is None
    assert unknown_key_message(ValueError(str(error))) is None


def _raise(error):
    def main():
        raise error
    return main


def test_run_tool_is_one_line_for_config_errors(monkeypatch):
    monkeypatch.setattr(sys, 'argv', ['t.py', '--cfg-options', 'm.k=1'])
    with pytest.raises(SystemExit) as e:
        run_tool(_raise(ConfigError('a.b: bad')), 't.py')
    assert e.value.code == 't.py: error: a.b: bad'
    with pytest.raises(SystemExit) as e:
        run_tool(_raise(TypeError("got an unexpected keyword argument 'k'")),
                 't.py')
    assert e.value.code.startswith('t.py: error: --cfg-options m.k: no such')
    # any other TypeError is a bug: its traceback is kept
    with pytest.raises(TypeError, match='unsupported'):
        run_tool(_raise(TypeError('unsupported operand')), 't.py')
    monkeypatch.setattr(sys, 'argv', ['t.py', '--debug'])
    with pytest.raises(ConfigError):
        run_tool(_raise(ConfigError('a.b: bad')), 't.py')
