"""Shared pytest set-up: fixed seeds and a registry import for every test,
and the generated RefShapes and tiny checkpoint of the tool and
developer-script tests."""
import random
from pathlib import Path

import numpy as np
import pytest
import torch

import projects.risam  # noqa: F401  (registers the plugin's names)

DEMO_CONFIG = (Path(__file__).resolve().parents[1] /
               'configs/risam/risam_tiny-vit_1xb16-3kit_refshapes-128x128.py')


@pytest.fixture(autouse=True)
def _fixed_seeds():
    """Every test starts from the same random state."""
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield


@pytest.fixture(scope='session')
def refshapes_root(tmp_path_factory) -> Path:
    """RefShapes with 8 train, 4 val, 4 test images (128 px)."""
    from projects.risam.datasets.refshapes import generate_refshapes
    root = tmp_path_factory.mktemp('refshapes')
    generate_refshapes(str(root), train=8, val=4, test=4, seed=0,
                       progress=False)
    return root


@pytest.fixture(scope='session')
def tiny_checkpoint(tmp_path_factory) -> Path:
    """The demo config's model with seeded random weights, as a checkpoint."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    torch.manual_seed(1)
    model = MODELS.build(Config.fromfile(str(DEMO_CONFIG)).model)
    path = tmp_path_factory.mktemp('ckpt') / 'tiny.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return path
