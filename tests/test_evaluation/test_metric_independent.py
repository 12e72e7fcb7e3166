"""ReferMetric against pycocotools' mask arithmetic on the same masks.

Random blob masks at several image sizes (some with ignored 255 pixels, one
pair both empty, one prediction empty) are scored twice: by ``ReferMetric``
and by run-length-encoded intersection and union areas from
``pycocotools.mask`` (``merge`` with and without ``intersect``, ``area``),
then oIoU = sum(I) / sum(U), mIoU = mean(I / U) with an empty pair scoring 1
and Pr@X = share of IoU >= X / 100 (DESIGN §4), computed here from those
areas alone.
"""
import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch

from projects.risam.evaluation import ReferMetric


def _blob(rng, h, w):
    """A random filled ellipse (uint8 {0, 1}, H x W)."""
    yy, xx = np.mgrid[:h, :w]
    cy, cx = rng.uniform(0, h), rng.uniform(0, w)
    ry, rx = rng.uniform(2, h / 2), rng.uniform(2, w / 2)
    return (((yy - cy) / ry)**2 + ((xx - cx) / rx)**2 <= 1).astype(np.uint8)


def _samples(seed=0, n=40):
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        h, w = int(rng.integers(20, 70)), int(rng.integers(20, 70))
        gt = _blob(rng, h, w)
        if k % 3 == 0:  # prediction near the target
            pred = np.roll(gt, int(rng.integers(-6, 7)), axis=1)
        else:
            pred = _blob(rng, h, w)
        if k % 5 == 0:
            gt[-int(rng.integers(1, 8)):] = 255  # padding rows, ignored
        out.append((gt, pred))
    out.append((np.zeros((9, 7), np.uint8), np.zeros((9, 7), np.uint8)))
    g = np.zeros((9, 7), np.uint8)
    g[2:5, 1:4] = 1
    out.append((g, np.zeros((9, 7), np.uint8)))
    return out


def _areas(gt, pred):
    """(I, U) by pycocotools RLE; ignored pixels leave both masks."""
    valid = gt != 255
    t = np.asfortranarray(((gt == 1) & valid).astype(np.uint8))
    p = np.asfortranarray(((pred == 1) & valid).astype(np.uint8))
    rles = [mask_utils.encode(t), mask_utils.encode(p)]
    inter = int(mask_utils.area(mask_utils.merge(rles, intersect=True)))
    union = int(mask_utils.area(mask_utils.merge(rles, intersect=False)))
    return inter, union


def test_refer_metric_matches_pycocotools_areas():
    pairs = _samples()
    metric = ReferMetric()
    metric.process({}, [
        dict(gt_sem_seg=dict(data=torch.from_numpy(g)[None].long()),
             pred_sem_seg=dict(data=torch.from_numpy(p)[None].long()),
             sent_id=i) for i, (g, p) in enumerate(pairs)
    ])
    got = metric.evaluate(len(pairs))

    areas = np.array([_areas(g, p) for g, p in pairs], dtype=float)
    inter, union = areas[:, 0], areas[:, 1]
    ious = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    want = dict(oIoU=100 * inter.sum() / union.sum(),
                mIoU=100 * ious.mean())
    for x in (50, 60, 70, 80, 90):
        want[f'Pr@{x}'] = 100 * (ious >= x / 100).mean()
    # a spread of IoUs was compared, not a degenerate one
    assert 0.1 < ious.mean() < 0.9 and (ious >= 0.5).any()
    assert (ious < 0.5).any() and (areas[:, 1] == 0).sum() == 1
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=0.005), key
