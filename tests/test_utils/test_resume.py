"""Resume through mmengine's Runner with torch's weights_only loading on."""
import pickle
from pathlib import Path
from typing import Dict, List

import pytest
import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

from projects.risam.utils.safe_load import _history_buffer_getattr

REPO = Path(__file__).resolve().parents[2]


class _Regression(Dataset):
    """8 fixed samples of y = sum(x)."""

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> Dict[str, torch.Tensor]:
        x = torch.randn(4, generator=torch.Generator().manual_seed(i))
        return dict(inputs=x, target=x.sum(0, keepdim=True))


class _Linear(BaseModel):

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 1)

    def forward(self, inputs, target, mode='tensor'):
        out = self.fc(inputs)
        if mode == 'loss':
            return dict(loss=((out - target)**2).mean())
        return out


class _RecordStart(Hook):
    """Remember the epoch and optimizer state at the first train epoch."""

    def __init__(self) -> None:
        self.seen: List[dict] = []

    def before_train_epoch(self, runner) -> None:
        state = runner.optim_wrapper.optimizer.state_dict()['state']
        state = {k: {n: t.clone() for n, t in v.items()}
                 for k, v in state.items()}  # training mutates them in place
        self.seen.append(dict(epoch=runner.epoch, iter=runner.iter,
                              lr=runner.optim_wrapper.get_lr()['lr'][0],
                              state=state))


def _run(work_dir: Path, max_epochs: int, resume: bool) -> tuple:
    recorder = _RecordStart()
    torch.manual_seed(0)  # same initial weights in every run
    runner = Runner(
        model=_Linear(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=_Regression(),
            sampler=dict(type='DefaultSampler', shuffle=True),
            batch_size=4,
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=0.01)),
        param_scheduler=dict(type='MultiStepLR', milestones=[1], gamma=0.1),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        custom_hooks=[recorder],
        randomness=dict(seed=0),
        resume=resume)
    runner.train()
    return runner, recorder


def test_resume_continues_from_saved_epoch_and_optimizer(tmp_path):
    _run(tmp_path / 'run', max_epochs=2, resume=False)
    saved = torch.load(tmp_path / 'run' / 'epoch_2.pth', weights_only=True)
    assert saved['meta']['epoch'] == 2

    resumed, recorder = _run(tmp_path / 'run', max_epochs=3, resume=True)
    start = recorder.seen[0]
    assert len(recorder.seen) == 1
    assert (start['epoch'], start['iter']) == (2, 4)
    saved_state = saved['optimizer']['state']
    assert saved_state.keys() == start['state'].keys()
    for key, tensors in saved_state.items():
        assert tensors['step'] == 4
        for name in ('exp_avg', 'exp_avg_sq'):
            torch.testing.assert_close(start['state'][key][name],
                                       tensors[name], rtol=0, atol=0)
    # the scheduler resumed too: past milestone 1, lr is 0.01 * 0.1
    assert start['lr'] == pytest.approx(1e-3)

    # the resumed run ends exactly where an uninterrupted one does
    straight, _ = _run(tmp_path / 'straight', max_epochs=3, resume=False)
    for a, b in zip(resumed.model.parameters(), straight.model.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_guarded_getattr_only_serves_history_buffer_statistics():
    assert _history_buffer_getattr(HistoryBuffer, 'mean') is HistoryBuffer.mean
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        _history_buffer_getattr(HistoryBuffer, '__init__')
    with pytest.raises(pickle.UnpicklingError):
        _history_buffer_getattr(torch, 'load')


def test_arbitrary_globals_are_still_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'f': print}, path)
    with pytest.raises(pickle.UnpicklingError, match='print'):
        torch.load(path, weights_only=True)


def test_weights_only_is_never_switched_off():
    offenders = []
    for path in REPO.rglob('*'):
        # outputs (work_dirs: runs and mutation testing's mutants) and the
        # user's data are not the project's code
        top = path.relative_to(REPO).parts[0]
        if top in ('.venv', '.git', 'work_dirs', 'data', 'mutants') or \
                not path.is_file():
            continue
        if path.suffix not in ('.py', '.sh', '.cfg', '.toml', '.txt') and \
                path.name not in ('Makefile', 'run'):
            continue
        text = path.read_text(errors='ignore')
        # spelled in pieces so that this file does not match itself
        for needle in ('weights_only' + '=False', 'weights_only' + ' = False',
                       'TORCH_FORCE_NO_' + 'WEIGHTS_ONLY_LOAD'):
            if needle in text:
                offenders.append(f'{path.relative_to(REPO)}: {needle}')
    assert offenders == []
