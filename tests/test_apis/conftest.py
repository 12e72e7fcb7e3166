"""Fixtures of the batch-inference tests: small generated images with a
JSONL input, and a tiny checkpoint (seeded random weights)."""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

REPO = Path(__file__).resolve().parents[2]
DEMO_CONFIG = REPO / 'configs/risam/risam_tiny-vit_1xb16-3kit_refshapes-128x128.py'

SENTENCES = ['the red shape', 'the leftmost shape', 'the biggest circle',
             'the small blue square']


def write_images(folder: Path, count: int, seed: int = 0) -> list:
    """``count`` PNGs of 32-64 px with a few coloured rectangles."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(count):
        h, w = (int(v) for v in rng.integers(32, 65, size=2))
        img = np.full((h, w, 3), 40, np.uint8)
        for _ in range(3):
            y, x = int(rng.integers(0, h - 8)), int(rng.integers(0, w - 8))
            img[y:y + int(rng.integers(6, 20)), x:x + int(rng.integers(6, 20))] \
                = rng.integers(0, 256, size=3)
        path = folder / f'img_{k:04d}.png'
        cv2.imwrite(str(path), img)
        paths.append(path)
    return paths


def write_input(path: Path, images: list) -> Path:
    """A JSONL input: image k gets 1 + k % 4 sentences."""
    path.write_text(''.join(
        json.dumps(dict(image=f'{p.parent.name}/{p.name}',
                        sentences=SENTENCES[:1 + k % 4])) + '\n'
        for k, p in enumerate(images)))
    return path


@pytest.fixture(scope='session')
def small_input(tmp_path_factory) -> Path:
    """12 images (32-64 px), 1-4 sentences each, as a JSONL input."""
    root = tmp_path_factory.mktemp('infer_input')
    return write_input(root / 'input.jsonl', write_images(root / 'imgs', 12))


@pytest.fixture(scope='session')
def tiny_checkpoint(tmp_path_factory) -> Path:
    """The demo config's model with seeded random weights, as a checkpoint."""
    init_default_scope('mmseg')
    torch.manual_seed(1)
    model = MODELS.build(Config.fromfile(str(DEMO_CONFIG)).model)
    path = tmp_path_factory.mktemp('ckpt') / 'tiny.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return path
