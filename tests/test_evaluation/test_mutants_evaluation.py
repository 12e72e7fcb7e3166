"""ReferMetric details that mutation testing found unguarded.

The per-sample dump (its ``img_path`` field, a folder that already exists,
the log line naming the file).
"""
import json
import logging

import torch
from mmengine.logging import MMLogger

from projects.risam.evaluation import ReferMetric


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
