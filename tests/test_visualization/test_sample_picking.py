"""Which samples a figure shows: spread by expression type, or chosen by
IoU (best, worst, spread) from predictions with known IoUs on refer and on
generalized RefShapes."""
from pathlib import Path
from typing import List, Optional

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import DATASETS

from projects.risam.datasets.grefshapes import generate_grefshapes
from projects.risam.visualization import (
    pick_by_iou,
    predict,
    predict_picked,
    sample_iou,
    sample_ious,
)
from projects.risam.visualization.sample_picking import default_num, group_label, pick_samples

REPO = Path(__file__).resolve().parents[2]
DEMO_CONFIG = REPO / 'configs/risam/risam_tiny-vit_1xb16-3kit_refshapes-128x128.py'
GREF_CONFIG = REPO / \
    'configs/risam/risam_tiny-vit_1xb16-5500it_grefshapes-128x128.py'


def test_every_expression_type_gets_its_share():
    # 10 colour, 3 position, 7 size: a plain even spread of 6 would show
    # no position sample at all
    types = ['colour'] * 10 + ['position'] * 3 + ['size'] * 7
    assert pick_samples(types, 6) == [0, 9, 10, 12, 13, 19]
    # more tiles than samples of a type: all of them
    assert pick_samples(types, 12) == [0, 3, 6, 9, 10, 11, 12, 13, 15, 17,
                                       19]


def test_without_types_samples_are_spread_evenly():
    assert pick_samples([None] * 9, 3) == [0, 4, 8]
    assert pick_samples([None] * 2, 5) == [0, 1]
    assert pick_samples([], 4) == []


def test_generalized_rows_for_multi_and_no_target_sentences():
    infos = [
        dict(expr_type='colour', no_target=False, ann_ids=[1]),
        dict(expr_type='colour', no_target=True, ann_ids=[]),
        dict(expr_type='multi_except', no_target=False, ann_ids=[1, 2]),
        dict(expr_type='position', no_target=False, ann_ids=[3]),
        dict(expr_type=None, no_target=False, ann_ids=[1, 2]),
    ]
    labels = [group_label(i) for i in infos]
    assert labels == ['colour', 'no target', 'multi-target', 'position',
                      None]
    # one row of 4 per group: RefShapes' 5 types give today's 20 tiles,
    # generalized RefShapes 5 + multi-target + no target = 7 rows
    assert default_num(labels[:4], 4) == 16
    assert default_num(['colour', 'shape', 'colour_shape', 'position',
                        'size'], 4) == 20
    assert default_num(labels, 4) == 20
    assert default_num([], 4) == 20


def test_sample_iou_and_the_empty_target_rule():
    gt = np.zeros((4, 4), bool)
    gt[:2] = True  # 8 pixels
    pred = np.zeros((4, 4), bool)
    pred[1:3] = True  # 4 shared, union 12
    assert sample_iou(pred, gt) == pytest.approx(4 / 12)
    empty = np.zeros((4, 4), bool)
    # a no-target sentence: right only when nothing is predicted
    assert sample_iou(empty, empty) == 1.0
    assert sample_iou(pred, empty) == 0.0
    assert sample_iou(empty, gt) == 0.0


def test_pick_by_iou_known_answers():
    ious = [0.5, 0.9, 0.1, 0.7, 0.1, 0.3]
    assert pick_by_iou(ious, 3, 'worst') == [2, 4, 5]  # ties keep order
    assert pick_by_iou(ious, 2, 'best') == [1, 3]
    # ascending order 2 4 5 0 3 1; ranks 0, 2.5 -> 2 (half to even), 5
    assert pick_by_iou(ious, 3, 'spread') == [2, 5, 1]
    assert pick_by_iou(ious, 2, 'spread') == [2, 1]
    assert pick_by_iou(ious, 10, 'worst') == [2, 4, 5, 0, 3, 1]
    assert pick_by_iou([], 3, 'best') == []
    with pytest.raises(ValueError, match="'median'"):
        pick_by_iou(ious, 2, 'median')


class _KnownIoUModel:
    """Stands in for a segmentor: the n-th sample it is given is predicted
    as its target plus ``extra[n]`` x |target| background pixels (IoU
    1 / (1 + extra)), or as empty where ``extra[n]`` is None; a no-target
    sample with ``extra`` > 0 gets 10 predicted pixels (IoU 0)."""

    def __init__(self, extra: List[Optional[float]]) -> None:
        self.extra = list(extra)

    def test_step(self, batch: dict) -> list:
        out = []
        for sample in batch['data_samples']:
            gt = sample.gt_sem_seg.data[0].numpy() == 1
            extra = self.extra.pop(0)
            pred = np.zeros_like(gt)
            if extra is not None:
                m = max(10, round(extra * gt.sum())) if extra else 0
                pred = gt.copy().reshape(-1)
                pred[np.flatnonzero(~pred)[:m]] = True
                pred = pred.reshape(gt.shape)
            sample.pred_sem_seg = PixelData(
                data=torch.from_numpy(pred[None].astype(np.uint8)))
            out.append(sample)
        return out


def _dataset(config, root):
    init_default_scope('mmseg')
    cfg = Config.fromfile(str(config)).test_dataloader.dataset
    cfg.data_root = str(root) + '/'
    return DATASETS.build(cfg)


def test_pick_on_refer_refshapes(refshapes_root):
    dataset = _dataset(DEMO_CONFIG, refshapes_root)
    extra = [0.5, 0, 3, 1, 0.25, 2]
    preds = predict(_KnownIoUModel(extra), dataset, range(6), batch_size=4)
    assert [p.index for p in preds] == list(range(6))
    assert all(p.gt.any() and not p.no_target for p in preds)
    ious = [p.iou for p in preds]
    assert ious == pytest.approx([1 / (1 + e) for e in extra], rel=0.02)
    # IoUs 0.67 1 0.25 0.5 0.8 0.33
    assert pick_by_iou(ious, 3, 'worst') == [2, 5, 3]
    assert pick_by_iou(ious, 2, 'best') == [1, 4]
    assert pick_by_iou(ious, 3, 'spread') == [2, 3, 1]
    # the same IoUs without keeping the masks
    assert sample_ious(_KnownIoUModel(extra), dataset, range(6)) == ious
    # ranked, then the chosen ones predicted again (extras 3, 2, 1)
    picked = predict_picked(_KnownIoUModel(extra + [3, 2, 1]), dataset,
                            range(6), 3, 'worst')
    assert [p.index for p in picked] == [2, 5, 3]
    assert [p.iou for p in picked] == [ious[2], ious[5], ious[3]]


@pytest.fixture(scope='module')
def grefshapes_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('grefshapes')
    generate_grefshapes(str(root), train=1, val=2, test=2, seed=0,
                        progress=False)
    return root


def test_pick_worst_on_generalized_refshapes(grefshapes_root):
    dataset = _dataset(GREF_CONFIG, grefshapes_root)
    kinds = [group_label(dataset.get_data_info(i))
             for i in range(len(dataset))]
    none = [i for i, k in enumerate(kinds) if k == 'no target'][:2]
    multi = kinds.index('multi-target')
    single = next(i for i, k in enumerate(kinds)
                  if k not in ('no target', 'multi-target'))
    indices = [none[0], single, none[1], multi]
    # no-target left empty (right), target exact, no-target with pixels
    # (wrong), multi-target with as many extra pixels as target ones
    preds = predict(_KnownIoUModel([None, 0, 1, 1]), dataset, indices)
    assert [p.no_target for p in preds] == [True, False, True, False]
    assert not preds[0].gt.any() and not preds[0].pred.any()
    assert preds[3].gt.any()
    ious = [p.iou for p in preds]
    assert ious == pytest.approx([1, 1, 0, 0.5], abs=0.01)
    assert pick_by_iou(ious, 2, 'worst') == [2, 3]
    assert pick_by_iou(ious, 2, 'best') == [0, 1]
