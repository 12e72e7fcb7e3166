"""Fixtures for the speed-feature tests: a small RefShapes and a tiny cfg."""
from pathlib import Path

import pytest
from mmengine.config import Config

from projects.risam.datasets.refshapes import generate_refshapes

REPO = Path(__file__).resolve().parents[2]
BASES = ['models/risam_tiny.py', 'datasets/refshapes.py',
         'schedules/schedule_50e.py', 'default_runtime.py']


@pytest.fixture(scope='session')
def small_refshapes(tmp_path_factory) -> Path:
    """RefShapes with 16 train, 6 val, 2 test images (128 px)."""
    root = tmp_path_factory.mktemp('refshapes_speed')
    generate_refshapes(str(root), train=16, val=6, test=2, seed=0,
                       progress=False)
    return root


def tiny_config(root: Path, work_dir: Path, **updates) -> Config:
    """Tiny RISAM on RefShapes at ``root``; single process, no workers."""
    bases = ', '.join(repr(str(REPO / 'configs/risam/_base_' / b))
                      for b in BASES)
    path = work_dir / 'tiny_cfg.py'
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'_base_ = [{bases}]\n')
    cfg = Config.fromfile(str(path))
    cfg.work_dir = str(work_dir)
    for name in ('train', 'val', 'test'):
        loader = cfg[f'{name}_dataloader']
        loader.dataset.data_root = str(root)
        loader.num_workers = 0
        loader.persistent_workers = False
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=-1)
    cfg.default_hooks.logger.interval = 1000
    cfg.merge_from_dict(updates)
    return cfg
