import pytest
import torch
from mmseg.registry import METRICS

from projects.risam.evaluation.metrics.generalized_refer_metric import (
    GeneralizedReferMetric,
    sentence_kind,
)

H, W = 4, 4


def mask(*pixels):
    m = torch.zeros(1, H, W, dtype=torch.int64)
    for p in pixels:
        m[0, p // W, p % W] = 1
    return m


def sample(gt, pred, ann_ids, **meta):
    return dict(gt_sem_seg=dict(data=gt), pred_sem_seg=dict(data=pred),
                ann_ids=ann_ids, no_target=not ann_ids, **meta)


def hand_samples():
    """Five samples; per-sample (I, U) in the comments."""
    return [
        # single, colour: I=2 U=6
        sample(mask(0, 1, 2, 3), mask(2, 3, 4, 5), [1], expr_type='colour'),
        # multi: I=6 U=6
        sample(mask(0, 1, 2, 8, 9, 10), mask(0, 1, 2, 8, 9, 10), [1, 2],
               expr_type='multi_colour'),
        # none, predicted empty: I=0 U=0
        sample(mask(), mask(), [], expr_type='colour_shape'),
        # none, predicted 3 pixels: I=0 U=3
        sample(mask(), mask(5, 6, 7), [], expr_type='colour'),
        # single, colour, predicted empty: I=0 U=2
        sample(mask(12, 13), mask(), [3], expr_type='colour'),
    ]


def test_kinds_and_types_by_hand():
    metric = GeneralizedReferMetric()
    metric.process({}, hand_samples())
    m = metric.compute_metrics(metric.results)
    assert m['oIoU'] == round(100 * 8 / 17, 2)
    assert m['gIoU'] == round(100 * (1 / 3 + 1 + 1 + 0 + 0) / 5, 2)
    assert m['oIoU/single'] == 25.0  # (2 + 0) / (6 + 2)
    assert m['oIoU/multi'] == 100.0
    # per type over targeted samples only: the no-target "colour" sample's
    # 3 false-positive pixels would make it 2 / 11
    assert m['oIoU/colour'] == 25.0
    assert m['oIoU/multi_colour'] == 100.0
    assert 'oIoU/colour_shape' not in m
    assert m['N-acc'] == 50.0 and m['T-acc'] == round(100 * 2 / 3, 2)
    assert m['N-acc/colour'] == 0.0 and m['N-acc/colour_shape'] == 100.0


def test_sentence_kind():
    assert sentence_kind(True, 0) == 'none'
    assert sentence_kind(False, 0) == 'none'
    assert sentence_kind(False, 1) == 'single'
    assert sentence_kind(False, 3) == 'multi'


def test_registered_and_needs_ann_ids():
    metric = METRICS.build(dict(type='risam.GeneralizedReferMetric'))
    assert metric.grefcoco
    bad = hand_samples()[:1]
    del bad[0]['ann_ids']
    with pytest.raises(KeyError, match="'ann_ids'.*meta_keys"):
        metric.process({}, bad)
