"""ReferMetric by hand: the keys, gRefCOCO mode, edge cases, ignored
pixels, its conventions, the per-rank parts of a distributed run, and the
per-sample dump (rows, ``img_path``, an existing folder, the log line)."""
import json
import logging
import socket

import pytest
import torch
import torch.multiprocessing as mp
from mmengine.logging import MMLogger
from mmseg.registry import METRICS

from projects.risam.evaluation import ReferMetric

H, W = 4, 4


def mask(*pixels):
    m = torch.zeros(1, H, W, dtype=torch.int64)
    for p in pixels:
        m[0, p // W, p % W] = 1
    return m


def sample(gt, pred, **meta):
    return dict(gt_sem_seg=dict(data=gt), pred_sem_seg=dict(data=pred),
                **meta)


def hand_samples():
    """Seven samples; per-sample (I, U, IoU) in the comments."""
    return [
        # I=2 U=6 IoU=1/3
        sample(mask(0, 1, 2, 3), mask(2, 3, 4, 5), sent_id=1,
               expr_type='colour', text='a'),
        # I=4 U=4 IoU=1
        sample(mask(8, 9, 10, 11), mask(8, 9, 10, 11), sent_id=2,
               expr_type='colour', text='b'),
        # both empty: I=0 U=0 IoU=1 (no target, predicted empty)
        sample(mask(), mask(), sent_id=3, no_target=True, text='c'),
        # empty prediction: I=0 U=3 IoU=0
        sample(mask(0, 5, 10), mask(), sent_id=4, text='d'),
        # empty target: I=0 U=2 IoU=0 (no target, predicted non-empty)
        sample(mask(), mask(6, 7), sent_id=5, no_target=True, text='e'),
        # I=6 U=8 IoU=0.75
        sample(mask(*range(8)), mask(*range(6)), sent_id=6, text='f'),
        # I=2 U=4 IoU=0.5 exactly (counts for Pr@50)
        sample(mask(12, 13), mask(12, 13, 14, 15), sent_id=7, text='g'),
    ]


def run(metric, samples):
    metric.process({}, samples)
    return metric.evaluate(len(samples))


def test_hand_computed_keys():
    assert METRICS.get('risam.ReferMetric') is ReferMetric
    out = run(ReferMetric(), hand_samples())
    assert out == {
        'oIoU': 51.85,  # 14 / 27
        'mIoU': 51.19,  # (1/3 + 1 + 1 + 0 + 0 + .75 + .5) / 7
        'Pr@50': 57.14,  # 4 / 7
        'Pr@60': 42.86,
        'Pr@70': 42.86,
        'Pr@80': 28.57,
        'Pr@90': 28.57,
        'oIoU/colour': 60.0,  # (2 + 4) / (6 + 4)
    }


def test_grefcoco_keys():
    out = run(ReferMetric(grefcoco=True), hand_samples())
    assert out['gIoU'] == 51.19  # no-target: 1 (empty pred) and 0
    assert out['cIoU'] == 51.85
    assert out['N-acc'] == 50.0  # 1 of 2 no-target samples predicted empty
    assert out['T-acc'] == 80.0  # 4 of 5 targeted samples non-empty


def test_gIoU_differs_from_mIoU_when_no_target_has_a_spurious_target():
    # a no-target sample scores 0 in gIoU when anything is predicted, even
    # though its IoU against an (ignored) target would be non-zero
    gt = mask(0, 1)
    out = run(ReferMetric(grefcoco=True), [
        sample(gt, mask(0, 1), no_target=True),
        sample(mask(2), mask(2)),
    ])
    assert out['mIoU'] == 100.0 and out['gIoU'] == 50.0


def test_single_edge_cases():
    assert run(ReferMetric(), [sample(mask(), mask())])['mIoU'] == 100.0
    assert run(ReferMetric(), [sample(mask(), mask())])['oIoU'] == 0.0
    assert run(ReferMetric(), [sample(mask(1), mask())])['mIoU'] == 0.0
    assert run(ReferMetric(), [sample(mask(), mask(1))])['Pr@50'] == 0.0


def test_ignore_index_is_left_out():
    gt = mask(0, 1)
    gt[0, 0, 2] = 255  # predicted but ignored
    out = run(ReferMetric(), [sample(gt, mask(0, 1, 2))])
    assert out['oIoU'] == 100.0


def test_dump_file(tmp_path):
    dump = tmp_path / 'sub' / 'per_sample.json'
    run(ReferMetric(dump_file=str(dump)), hand_samples())
    rows = json.loads(dump.read_text())
    assert [r['sample_id'] for r in rows] == list(range(1, 8))
    assert [r['text'] for r in rows] == list('abcdefg')
    assert [r['iou'] for r in rows] == [0.333333, 1.0, 1.0, 0.0, 0.0, 0.75,
                                        0.5]


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _random_samples(n=10):
    g = torch.Generator().manual_seed(0)
    out = []
    for i in range(n):
        gt = (torch.rand(1, 6, 5, generator=g) > 0.6).long()
        pred = (torch.rand(1, 6, 5, generator=g) > 0.5).long()
        out.append(sample(gt, pred, sent_id=i, no_target=not gt.any(),
                          expr_type='ab'[i % 2]))
    return out


def _dist_worker(rank, world, port, out_dir):
    import torch.distributed as dist
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=rank, world_size=world)
    try:
        samples = _random_samples()
        metric = ReferMetric(grefcoco=True)
        # interleaved like DistributedSampler
        metric.process({}, samples[rank::world])
        res = metric.evaluate(len(samples))
        with open(f'{out_dir}/rank{rank}.json', 'w') as f:
            json.dump(res, f)
    finally:
        dist.destroy_process_group()


def test_per_rank_parts_reduce_to_the_single_process_result():
    # what mmengine's collect path hands compute_metrics: the ranks' parts
    samples = _random_samples()
    parts = []
    for rank in range(2):
        m = ReferMetric(grefcoco=True)
        m.process({}, samples[rank::2])
        parts.append(m.results)
    collected = [r for pair in zip(*parts) for r in pair]
    single = run(ReferMetric(grefcoco=True), samples)
    assert ReferMetric(grefcoco=True).compute_metrics(collected) == single


@pytest.mark.slow  # two gloo processes (~20 s on 2 cores)
def test_distributed_equals_single_process(tmp_path):
    single = run(ReferMetric(grefcoco=True), _random_samples())
    mp.spawn(_dist_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2)
    for rank in range(2):
        got = json.loads((tmp_path / f'rank{rank}.json').read_text())
        assert got == single
    assert 0 < single['oIoU'] < 100 and 'oIoU/a' in single


# hand_samples() under each convention; per-sample IoU with the default
# convention: [1/3, 1, 1 (both empty, no target), 0, 0 (no target), .75, .5]
CONVENTIONS = {
    # ours (default): both empty scores 1, Pr@X over all seven samples
    (1.0, 'all'): dict(mIoU=51.19, pr=[57.14, 42.86, 42.86, 28.57, 28.57]),
    # mmdet RefSegMetric / LAVT / CRIS: both empty scores 0
    # mIoU = (1/3 + 1 + .75 + .5) / 7; Pr@50 = 3/7, Pr@60..70 = 2/7, ...
    (0.0, 'all'): dict(mIoU=36.90, pr=[42.86, 28.57, 28.57, 14.29, 14.29]),
    # ReLA: Pr@X over the five targeted samples [1/3, 1, 0, .75, .5]
    (1.0, 'targeted'): dict(mIoU=51.19, pr=[60.0, 40.0, 40.0, 20.0, 20.0]),
    (0.0, 'targeted'): dict(mIoU=36.90, pr=[60.0, 40.0, 40.0, 20.0, 20.0]),
}


@pytest.mark.parametrize('empty,pr_samples', sorted(CONVENTIONS))
def test_metric_conventions_hand_computed(empty, pr_samples):
    want = CONVENTIONS[(empty, pr_samples)]
    out = run(ReferMetric(grefcoco=True, empty_union_iou=empty,
                          precision_samples=pr_samples), hand_samples())
    assert out['mIoU'] == want['mIoU']
    assert [out[f'Pr@{x}'] for x in (50, 60, 70, 80, 90)] == want['pr']
    # the cumulative and gRefCOCO keys do not depend on the conventions
    assert (out['oIoU'], out['cIoU'], out['gIoU'], out['N-acc'],
            out['T-acc']) == (51.85, 51.85, 51.19, 50.0, 80.0)


def test_metric_conventions_single_empty_sample():
    both_empty = [sample(mask(), mask(), no_target=True)]
    assert run(ReferMetric(empty_union_iou=0.0), both_empty)['mIoU'] == 0.0
    assert run(ReferMetric(empty_union_iou=0.0), both_empty)['Pr@50'] == 0.0
    # no targeted sample at all: Pr@X is 0, not NaN
    assert run(ReferMetric(precision_samples='targeted'),
               both_empty)['Pr@50'] == 0.0


@pytest.mark.parametrize('kwargs', [dict(empty_union_iou=0.5),
                                    dict(precision_samples='targets')])
def test_metric_conventions_reject_other_values(kwargs):
    with pytest.raises(ValueError, match='ReferMetric: '):
        ReferMetric(**kwargs)


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
