"""projects.risam.profiling.projection: the paper run from measured steps,
against the schedule worked out by hand."""
import math

import pytest
from mmengine.config import Config

from projects.risam.profiling.projection import config_gpus, project, schedule

from .conftest import REPO

PAPER = REPO / 'configs/risam/risam_sam-vit-h_8xb4-50e_refcoco-1024x1024.py'
GIB = 2**30


def _train(batch=4):
    stat = lambda s, gib: dict(seconds_per_iter=s,  # noqa: E731
                               peak_memory_bytes=int(gib * GIB))
    return dict(batch=batch, per_sentence=stat(1.2, 40),
                image_grouped=stat(0.6, 30), cached=stat(0.3, 20),
                forward=stat(0.4, 10))


@pytest.fixture(scope='module')
def paper():
    return Config.fromfile(str(PAPER), import_custom_modules=False)


def test_paper_schedule_from_the_configs_own_fields(paper):
    """8 GPUs from auto_scale_lr (32) / batch per GPU (4); RefCOCO train
    and val sizes from reference_counts; validation every 5 of 50 epochs."""
    assert config_gpus(paper) == 8
    assert schedule(paper) == dict(
        kind='epochs', length=50, val_interval=5, gpus=8, batch_per_gpu=4,
        train_sentences=120624, val_sentences=10834, val_passes=10)


def test_paper_projection_by_hand(paper):
    card = dict(name='NVIDIA H100 80GB HBM3', total_memory_bytes=80 * GIB)
    out = project(paper, _train(), card)
    steps = 50 * 3770  # ceil(120624 / 32) = 3770 per epoch
    assert out['steps'] == steps
    # 10 passes x 10834 sentences x 0.1 s (0.4 s / 4), over 8 GPUs
    val_h = 10 * 10834 * 0.1 / 8 / 3600
    assert out['validation_hours'] == pytest.approx(val_h, abs=1e-3)
    for mode, s, gib in (('per_sentence', 1.2, 40), ('image_grouped', 0.6, 30),
                         ('cached', 0.3, 20)):
        assert out[mode]['gpus'] == 8
        assert out[mode]['hours_full_schedule'] == pytest.approx(
            steps * s / 3600 + val_h, abs=0.01)
        assert out[mode]['peak_memory_fraction'] == gib / 80
    # 62.83 + 0.38, 31.42 + 0.38, 15.71 + 0.38 hours
    assert out['summary'] == (
        'On NVIDIA H100 80GB HBM3 (80.0 GiB) the config fits: peak 50% '
        'per-sentence, 38% image-grouped, 25% cached; its schedule (50 '
        'epochs, batch 8 x 4) would take 63.2 h per-sentence, 31.8 h '
        'image-grouped, 16.1 h cached on 8 of them, validation included '
        '(0.4 h). Left out: the dataloader, and the all-reduce across 8 '
        'GPUs (the 2-GPU ddp section bounds it when there are two).')
    small = project(paper, _train(), dict(name='small', total_memory_bytes=
                                          int(25 * GIB)))
    assert 'config fits only in some modes' in small['summary']


def test_iteration_schedule_and_cpu(paper):
    """An iteration-based config keeps its max_iters x batch sentences at
    the measured batch; on the CPU there is no card and no fraction."""
    cfg = paper.copy()
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=3000,
                         val_interval=1500)
    cfg.train_dataloader.batch_size = 16
    cfg.pop('auto_scale_lr')
    out = project(cfg, _train(batch=2), None)
    assert out['steps'] == math.ceil(3000 * 16 / 2)
    assert out['schedule']['gpus'] == 1 and out['card'] is None
    assert out['per_sentence']['peak_memory_fraction'] is None
    assert out['per_sentence']['hours_full_schedule'] == pytest.approx(
        24000 * 1.2 / 3600 + out['validation_hours'], abs=0.01)
