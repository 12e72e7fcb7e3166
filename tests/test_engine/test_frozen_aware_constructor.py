"""The optimizer holds exactly the trainable parameters."""
import pytest
import torch.nn as nn
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

from projects.risam.engine import FrozenAwareOptimWrapperConstructor  # noqa


@pytest.fixture(autouse=True)
def _mmseg_scope():
    init_default_scope('mmseg')  # as configs with default_scope='mmseg'


def _model() -> nn.Module:
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    model[0].requires_grad_(False)
    return model


def test_frozen_parameters_left_out():
    model = _model()
    optim = build_optim_wrapper(model, dict(
        constructor='risam.FrozenAwareOptimWrapperConstructor',
        optimizer=dict(type='Adam', lr=1e-3)))
    params = [p for g in optim.optimizer.param_groups for p in g['params']]
    assert [id(p) for p in params] == [id(model[1].weight), id(model[1].bias)]
    assert optim.optimizer.param_groups[0]['lr'] == 1e-3


def test_paramwise_cfg_keeps_mmengine_behaviour():
    model = _model()
    optim = build_optim_wrapper(model, dict(
        constructor='risam.FrozenAwareOptimWrapperConstructor',
        optimizer=dict(type='Adam', lr=1e-3),
        paramwise_cfg=dict(bias_lr_mult=0.1)))
    lrs = {id(p): g['lr'] for g in optim.optimizer.param_groups
           for p in g['params']}
    assert lrs == {id(model[1].weight): 1e-3, id(model[1].bias): 1e-4}


def test_paper_schedule_uses_it():
    cfg = Config.fromfile('configs/risam/_base_/schedules/schedule_50e.py')
    assert cfg.optim_wrapper.constructor == \
        'risam.FrozenAwareOptimWrapperConstructor'
    assert 'paramwise_cfg' not in cfg.optim_wrapper
