"""Shared fixtures for the tool tests: a small RefShapes and a tiny checkpoint."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from projects.risam.datasets.refshapes import generate_refshapes

REPO = Path(__file__).resolve().parents[2]
DEMO_CONFIG = REPO / 'configs/risam/risam_tiny-vit_1xb16-3kit_refshapes-128x128.py'


def data_options(root: Path) -> list:
    """``--cfg-options`` pointing every loader of the demo config at root."""
    return [f'{loader}_dataloader.dataset.data_root={root}'
            for loader in ('train', 'val', 'test')]


@pytest.fixture(scope='session')
def refshapes_root(tmp_path_factory) -> Path:
    """RefShapes with 8 train, 4 val, 4 test images (128 px)."""
    root = tmp_path_factory.mktemp('refshapes')
    generate_refshapes(str(root), train=8, val=4, test=4, seed=0,
                       progress=False)
    return root


@pytest.fixture(scope='session')
def tiny_checkpoint(tmp_path_factory) -> Path:
    """The demo config's model with seeded random weights, as a checkpoint."""
    init_default_scope('mmseg')
    torch.manual_seed(1)
    model = MODELS.build(Config.fromfile(str(DEMO_CONFIG)).model)
    path = tmp_path_factory.mktemp('ckpt') / 'tiny.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return path
