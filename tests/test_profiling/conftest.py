"""Shared fixtures of the profiling tests: the tiny demo config (128 px)
and its model core, random."""
from pathlib import Path

import pytest
import torch

from projects.risam.profiling.build import build_core, config_without_checkpoints

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='session')
def tiny_config() -> str:
    """The tiny demo config's file."""
    return str(REPO / 'configs/risam/risam_tiny-vit_1xb16-3kit_refshapes-128x128.py')


@pytest.fixture
def tiny(tiny_config):
    """``(model config, RISAMCore on the CPU, seed 0)`` of the tiny config."""
    cfg = config_without_checkpoints(tiny_config)
    return cfg.model, build_core(cfg.model, torch.device('cpu'))
