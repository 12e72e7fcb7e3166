"""The tiny RISAM learns RefShapes, and what it learns comes from the sentence.

Every other test runs random weights; this one trains. The demo config's
model (frozen random encoders; FE, MA blocks and decoder trained) is trained
for ``ITERS`` iterations of ``BATCH`` sentences on a small generated RefShapes
and scored on its val split three ways with :class:`ReferMetric`:

- ``untrained``: the same model before the first update;
- ``trained``: after training;
- ``blanked``: the trained checkpoint with every val sentence replaced by
  ``''`` (the dataset's ``override_text``, as ``tools/test.py
  --override-text ''``).

RefShapes images hold 3-5 shapes and every sentence singles out one of them,
so only a model that reads the sentence can tell which. Beating ``blanked``
means the sentence is read; beating ``untrained`` means training did
something.

Margins. Measured on three seeds (``SEED`` picks the data, the weights and
the batch order), 150 iterations of 16, 120 train / 20 val images, val oIoU:

=====  =========  =======  =======  ==================  ================
seed   untrained  trained  blanked  trained - untrained  trained - blanked
=====  =========  =======  =======  ==================  ================
0      3.38       32.58    14.42    29.20               18.16
1      3.83       27.28    23.54    23.45               3.74
2      3.02       36.01    10.69    32.99               25.32
=====  =========  =======  =======  ==================  ================

The test runs seed 0. ``MARGIN_UNTRAINED`` (10) is under half the smallest
gap to the untrained model (23.45). ``MARGIN_BLANKED`` (1.5) is under half
the smallest gap to the blanked sentence (3.74, seed 1: after 150 updates
some seeds read the sentence only a little). A model that does not read
the sentence scores *exactly* the same with and without it, so any
positive margin separates the two: with the text encoder's output zeroed
(seed 0) trained = blanked = 23.80 and the test fails on the second assert.
About 80 s of one CPU core (data, training, three evaluations).
"""
import copy
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.runner import Runner

from projects.risam.datasets.refshapes import generate_refshapes
from projects.risam.evaluation import ReferMetric

REPO = Path(__file__).resolve().parents[2]
DEMO_CONFIG = REPO / 'configs/risam/risam_tiny-vit_1xb16-3kit_refshapes-128x128.py'
SEED = 0
ITERS = 150
BATCH = 16
TRAIN_IMAGES = 120
VAL_IMAGES = 20
MARGIN_UNTRAINED = 10.0  # oIoU points; see the module docstring
MARGIN_BLANKED = 1.5


def learning_config(root: Path, work_dir: Path, *, seed: int = SEED,
                    iters: int = ITERS) -> Config:
    """The demo config, shortened to ``iters`` updates, on ``root``."""
    cfg = Config.fromfile(str(DEMO_CONFIG))
    cfg.work_dir = str(work_dir)
    cfg.randomness = dict(seed=seed)
    for name in ('train', 'val', 'test'):
        loader = cfg[f'{name}_dataloader']
        loader.dataset.data_root = str(root)
        loader.num_workers = 0
        loader.persistent_workers = False
    cfg.train_dataloader.batch_size = BATCH
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters,
                         val_interval=iters + 1)
    warmup = max(iters // 20, 1)
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
             end=warmup),
        dict(type='CosineAnnealingLR', by_epoch=False, begin=warmup,
             end=iters, eta_min=1e-5)
    ]
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=-1)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=50,
                                    log_metric_by_epoch=False)
    cfg.log_level = 'WARNING'
    return cfg


def val_oiou(model: torch.nn.Module, loader_cfg: dict) -> float:
    """oIoU of ``model`` on the loader built from ``loader_cfg``."""
    loader = Runner.build_dataloader(copy.deepcopy(loader_cfg), seed=0)
    evaluator = Evaluator(ReferMetric())
    evaluator.dataset_meta = loader.dataset.metainfo
    model.eval()
    with torch.no_grad():
        for batch in loader:
            outputs = model.val_step(batch)
            evaluator.process(data_samples=outputs, data_batch=batch)
    return evaluator.evaluate(len(loader.dataset))['oIoU']


def train_and_score(tmp_path: Path, *, seed: int = SEED,
                    iters: int = ITERS) -> dict:
    """Generate the data, train, and return the three val oIoUs."""
    root = tmp_path / 'refshapes'
    generate_refshapes(str(root), train=TRAIN_IMAGES, val=VAL_IMAGES,
                       test=2, seed=seed, progress=False)
    cfg = learning_config(root, tmp_path / 'work', seed=seed, iters=iters)
    runner = Runner.from_cfg(cfg)
    val_cfg = cfg.val_dataloader
    blank_cfg = copy.deepcopy(val_cfg)
    blank_cfg.dataset.override_text = ''
    scores = dict(untrained=val_oiou(runner.model, val_cfg))
    model = runner.train()
    scores['trained'] = val_oiou(model, val_cfg)
    scores['blanked'] = val_oiou(model, blank_cfg)
    return scores


@pytest.mark.slow
def test_training_learns_and_reads_the_sentence(tmp_path):
    scores = train_and_score(tmp_path)
    assert scores['trained'] >= scores['untrained'] + MARGIN_UNTRAINED, \
        scores
    assert scores['trained'] >= scores['blanked'] + MARGIN_BLANKED, scores
