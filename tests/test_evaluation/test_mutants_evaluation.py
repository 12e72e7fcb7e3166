"""Metric details that mutation testing found unguarded.

ReferMetric's per-sample dump (its ``img_path`` field, a folder that
already exists, the log line naming the file); GeneralizedReferMetric over
several batches, gRefCOCO's ``ann_ids == [-1]`` for no-target sentences, a
kind that is absent, a one-pixel union and N-acc per type over several
samples, each by hand.
"""
import json
import logging
import re

import pytest
import torch
from mmengine.logging import MMLogger

from projects.risam.evaluation import ReferMetric
from projects.risam.evaluation.metrics.generalized_refer_metric import GeneralizedReferMetric


def _sample(gt_pixels, pred_pixels, **meta):
    gt = torch.zeros(1, 2, 2, dtype=torch.int64)
    pred = torch.zeros(1, 2, 2, dtype=torch.int64)
    gt.view(-1)[list(gt_pixels)] = 1
    pred.view(-1)[list(pred_pixels)] = 1
    return dict(gt_sem_seg=dict(data=gt), pred_sem_seg=dict(data=pred),
                **meta)


def _samples():
    return [
        _sample([0, 1], [1], sent_id=7, img_path='a.jpg', text='left'),
        _sample([3], [3], sent_id=8, img_path='b.jpg', text='right'),
    ]


class _Records(logging.Handler):

    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_dump_rows_and_an_existing_folder(tmp_path):
    folder = tmp_path / 'dumps'
    folder.mkdir()
    (folder / 'keep.txt').write_text('x')
    dump = folder / 'iou.json'
    for _ in range(2):  # the folder exists both times
        metric = ReferMetric(dump_file=str(dump))
        metric.process({}, _samples())
        metric.compute_metrics(metric.results)
    assert json.loads(dump.read_text()) == [
        dict(sample_id=7, img_path='a.jpg', text='left', iou=0.5),
        dict(sample_id=8, img_path='b.jpg', text='right', iou=1.0),
    ]
    assert (folder / 'keep.txt').read_text() == 'x'


def test_dump_path_is_logged_to_the_current_logger(tmp_path):
    dump = tmp_path / 'iou.json'
    logger = MMLogger.get_instance('mutants_evaluation_dump')
    records = _Records()
    logger.addHandler(records)
    try:
        metric = ReferMetric(dump_file=str(dump))
        metric.process({}, _samples())
        metric.compute_metrics(metric.results)
    finally:
        logger.removeHandler(records)
    assert f'ReferMetric: per-sample IoU written to {dump}' in \
        records.messages


def _g(gt_pixels, pred_pixels, ann_ids, no_target=False, **meta):
    return _sample(gt_pixels, pred_pixels, ann_ids=ann_ids,
                   no_target=no_target, **meta)


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
    bad = _sample([0], [0], no_target=False)
    msg = ("GeneralizedReferMetric: sample metainfo has no 'ann_ids'; add "
           "it to PackSegInputs' meta_keys in the test pipeline")
    with pytest.raises(KeyError, match=re.escape(msg)):
        GeneralizedReferMetric().process({}, [bad])


def test_no_samples_message():
    with pytest.raises(ValueError, match='^ReferMetric got no samples$'):
        ReferMetric().compute_metrics([])


def test_grefcoco_all_targeted():
    # one-pixel union in all (cIoU divides by 1); no no-target sample:
    # N-acc is 0.0, T-acc counts the one non-empty prediction
    metric = ReferMetric(grefcoco=True)
    metric.process({}, [_sample([0], [0]), _sample([1], [])])
    m = metric.compute_metrics(metric.results)
    assert m['cIoU'] == 50.0  # I = 1, U = 1 + 1
    metric = ReferMetric(grefcoco=True)
    metric.process({}, [_sample([0], [0])])
    m = metric.compute_metrics(metric.results)
    assert m['cIoU'] == 100.0 and m['N-acc'] == 0.0 and m['T-acc'] == 100.0
    assert m['oIoU'] == 100.0


def test_grefcoco_all_no_target():
    metric = ReferMetric(grefcoco=True)
    metric.process({}, [_sample([], [], no_target=True),
                        _sample([], [2], no_target=True)])
    m = metric.compute_metrics(metric.results)
    assert m['N-acc'] == 50.0 and m['T-acc'] == 0.0
    assert m['gIoU'] == 50.0


def test_precision_threshold_is_exactly_x_percent():
    # IoU = 100 / 201 = 0.4975: just under 0.5, so not in Pr@50
    gt = torch.zeros(1, 15, 15, dtype=torch.int64)
    pred = torch.zeros(1, 15, 15, dtype=torch.int64)
    gt.view(-1)[:201] = 1
    pred.view(-1)[:100] = 1
    metric = ReferMetric()
    metric.process({}, [dict(gt_sem_seg=dict(data=gt),
                             pred_sem_seg=dict(data=pred))])
    m = metric.compute_metrics(metric.results)
    assert m['mIoU'] == 49.75 and m['Pr@50'] == 0.0


def test_per_type_oiou_over_a_one_pixel_union():
    metric = ReferMetric()
    metric.process({}, [_sample([0], [0], expr_type='colour'),
                        _sample([1], [1, 2], expr_type='shape')])
    m = metric.compute_metrics(metric.results)
    assert m['oIoU/colour'] == 100.0 and m['oIoU/shape'] == 50.0


def test_results_keep_the_areas_and_fall_back_to_img_path(tmp_path):
    # no sent_id: the dump names the sample by its image
    dump = tmp_path / 'iou.json'
    metric = ReferMetric(dump_file=str(dump))
    metric.process({}, [_sample([0, 1, 2], [2, 3], img_path='c.jpg')])
    (result, ) = metric.results
    assert (result['inter'], result['union'], result['pred_area'],
            result['gt_area']) == (1, 4, 2, 3)
    metric.compute_metrics(metric.results)
    assert json.loads(dump.read_text())[0]['sample_id'] == 'c.jpg'


def test_prefix_and_collect_device_reach_mmengine():
    metric = ReferMetric(prefix='val', collect_device='gpu')
    assert metric.collect_device == 'gpu'
    metric.process({}, [_sample([0], [0])])
    assert metric.evaluate(1)['val/oIoU'] == 100.0
