"""CPU multi-process training/testing with gloo (asked for with
``--device cpu``), and resume after a crash.

The equality checks are exact: per-sample intersections and unions are
integers collected across ranks, and the tiny model is deterministic on CPU.
"""
import json
import os
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from .conftest import DEMO_CONFIG, REPO, data_options
from .test_test_tool import run_tool

pytestmark = pytest.mark.slow
SHORT = ['train_cfg.max_iters=4', 'train_cfg.val_interval=4',
         'default_hooks.checkpoint.interval=2',
         'default_hooks.checkpoint.max_keep_ckpts=3',
         'default_hooks.logger.interval=1',
         'train_dataloader.batch_size=4', 'val_dataloader.batch_size=8',
         'test_dataloader.batch_size=8']


def _dist(script: str, *args, port: int = None):
    """Run tools/<script>; without ``port`` the script picks a free one."""
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS='1')
    env.pop('PORT', None)
    if port is not None:
        env['PORT'] = str(port)
    return subprocess.run(['bash', f'tools/{script}', *map(str, args)],
                          cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)


def test_dist_train_then_dist_test_equals_single_process(
        refshapes_root, tmp_path):
    opts = ['--cfg-options', *data_options(refshapes_root), *SHORT]
    work = tmp_path / 'work'
    run = _dist('dist_train.sh', DEMO_CONFIG, 2, '--device', 'cpu',
                '--work-dir', work, *opts, port=29611)
    assert run.returncode == 0, run.stderr[-3000:]
    log = run.stdout + run.stderr
    # mmengine logs the world size as "GPU number", whatever the device
    assert 'Distributed training: True' in log and 'GPU number: 2' in log
    assert "dist_cfg: {'backend': 'gloo'}" in log
    assert 'Iter(train) [4/4]' in log
    ckpt = work / 'iter_4.pth'
    assert ckpt.is_file()

    # no PORT on one node: torchrun's standalone rendezvous picks one
    run = _dist('dist_test.sh', DEMO_CONFIG, ckpt, 2, '--device', 'cpu',
                '--splits', 'val', 'testA', '--work-dir',
                tmp_path / 'dist_test', '--out', tmp_path / 'two.json', *opts)
    assert run.returncode == 0, run.stderr[-3000:]
    run_tool('test.py', DEMO_CONFIG, ckpt, '--splits', 'val', 'testA',
             '--work-dir', tmp_path / 'one_test', '--out',
             tmp_path / 'one.json', *opts)
    two = json.loads((tmp_path / 'two.json').read_text())
    one = json.loads((tmp_path / 'one.json').read_text())
    assert two == one


class _Crash(Hook):
    """Simulate a killed job: die right after iteration ``at``."""

    def __init__(self, at: int) -> None:
        self.at = at

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if runner.iter + 1 == self.at:
            raise KeyboardInterrupt(f'killed after iteration {self.at}')


def _runner(root, work_dir, resume=False) -> Runner:
    """The demo config, shortened to 6 iterations on the small RefShapes."""
    init_default_scope('mmseg')
    cfg = Config.fromfile(str(DEMO_CONFIG))
    cfg.merge_from_dict({
        'train_cfg.max_iters': 6, 'train_cfg.val_interval': 6,
        'default_hooks.checkpoint.interval': 2,
        'default_hooks.checkpoint.max_keep_ckpts': 3,
        'train_dataloader.batch_size': 4, 'val_dataloader.batch_size': 8,
        **{f'{loader}_dataloader.dataset.data_root': str(root)
           for loader in ('train', 'val', 'test')},
    })
    cfg.work_dir = str(work_dir)
    cfg.resume = resume
    return Runner.from_cfg(cfg)


def _final_val(runner: Runner) -> dict:
    hub = runner.message_hub
    return {k: hub.get_scalar(f'val/{k}').current()
            for k in ('oIoU', 'mIoU', 'Pr@50', 'Pr@90')}


def test_resume_after_kill_ends_like_uninterrupted_run(refshapes_root,
                                                       tmp_path):
    straight = _runner(refshapes_root, tmp_path / 'straight')
    straight.train()
    expected = _final_val(straight)

    crashed = _runner(refshapes_root, tmp_path / 'crashed')
    crashed.register_hook(_Crash(at=3))
    with pytest.raises(KeyboardInterrupt):
        crashed.train()
    assert (tmp_path / 'crashed' / 'iter_2.pth').is_file()
    assert not (tmp_path / 'crashed' / 'iter_4.pth').exists()

    resumed = _runner(refshapes_root, tmp_path / 'crashed', resume=True)
    resumed.train()
    assert resumed.iter == 6
    assert _final_val(resumed) == expected
    a = torch.load(tmp_path / 'straight' / 'iter_6.pth',
                   weights_only=True)['state_dict']
    b = torch.load(tmp_path / 'crashed' / 'iter_6.pth',
                   weights_only=True)['state_dict']
    assert a.keys() == b.keys()
    for key, value in a.items():
        torch.testing.assert_close(b[key], value, rtol=0, atol=0, msg=key)
