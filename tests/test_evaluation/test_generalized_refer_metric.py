"""GeneralizedReferMetric by hand: sentence kinds and types, several
batches, an absent kind, N-acc per type as a share, and its messages."""
import re

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


def _g(gt_pixels, pred_pixels, ann_ids, no_target=False, **meta):
    """A sample from pixel lists, its ``no_target`` as given."""
    return dict(sample(mask(*gt_pixels), mask(*pred_pixels), ann_ids, **meta),
                no_target=no_target)


def test_generalized_kinds_over_two_batches():
    metric = GeneralizedReferMetric()
    metric.process({}, [_g([0], [0], [1])])  # single, I = U = 1
    metric.process({}, [_g([1, 2], [1], [2, 3]),  # multi, I = 1, U = 2
                        _g([], [], [-1], no_target=True)])  # none
    assert [r['kind'] for r in metric.results] == ['single', 'multi',
                                                   'none']
    m = metric.compute_metrics(metric.results)
    # a one-pixel union divides by 1
    assert m['oIoU/single'] == 100.0 and m['oIoU/multi'] == 50.0
    assert m['N-acc'] == 100.0


def test_generalized_absent_kind_has_no_key():
    metric = GeneralizedReferMetric()
    metric.process({}, [_g([0], [0, 1], [1]), _g([3], [3], [4])])
    m = metric.compute_metrics(metric.results)
    assert m['oIoU/single'] == round(100 * 2 / 3, 2)
    assert 'oIoU/multi' not in m


def test_generalized_n_acc_per_type_is_a_share():
    metric = GeneralizedReferMetric()
    metric.process({}, [
        _g([], [], [-1], no_target=True, expr_type='colour'),
        _g([], [2], [-1], no_target=True, expr_type='colour'),
        _g([], [], [-1], no_target=True, expr_type='colour'),
        _g([0], [0], [5], expr_type='colour'),
    ])
    m = metric.compute_metrics(metric.results)
    assert m['N-acc/colour'] == round(100 * 2 / 3, 2)
    assert m['oIoU/colour'] == 100.0  # the targeted sample only


def test_generalized_missing_ann_ids_message():
    bad = _g([0], [0], None)
    del bad['ann_ids']
    msg = ("GeneralizedReferMetric: sample metainfo has no 'ann_ids'; add "
           "it to PackSegInputs' meta_keys in the test pipeline")
    with pytest.raises(KeyError, match=re.escape(msg)):
        GeneralizedReferMetric().process({}, [bad])
