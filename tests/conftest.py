"""Shared pytest set-up: fixed seeds and a registry import for every test;
the generated RefShapes, the tiny checkpoint and an in-process tool runner
of the tool, developer-script and checkpoint tests."""
import random
import runpy
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch

import projects.risam  # noqa: F401  (registers the plugin's names)

REPO = Path(__file__).resolve().parents[1]
DEMO_CONFIG = REPO / 'configs/risam/risam_tiny-vit_1xb16-3kit_refshapes-128x128.py'


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


def run_tool_exit(tool: str, *args) -> str:
    """Run ``python tools/<tool> ARGS`` in-process; the message it exits
    with ('' when it ends normally or with status 0)."""
    argv = sys.argv
    sys.argv = [tool, *map(str, args)]
    try:
        runpy.run_path(str(REPO / 'tools' / tool), run_name='__main__')
    except SystemExit as e:
        return '' if e.code in (None, 0) else str(e.code)
    finally:
        sys.argv = argv
    return ''


@pytest.fixture(scope='session')
def tool_exit() -> Callable[..., str]:
    """:func:`run_tool_exit`, for any test."""
    return run_tool_exit
