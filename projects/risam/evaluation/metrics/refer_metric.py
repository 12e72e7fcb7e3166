"""Referring-segmentation metrics: oIoU, mIoU, Pr@X (and gRefCOCO's)."""
import json
import os
import os.path as osp
from collections import OrderedDict, defaultdict
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from ...registry import METRICS

__all__ = ['ReferMetric']

PR_THRESHOLDS = (50, 60, 70, 80, 90)
PRECISION_SAMPLES = ('all', 'targeted')


def _binary(data: torch.Tensor, ignore_index: int) -> tuple:
    """(1 x H x W or H x W) map -> (flat bool target, flat bool valid)."""
    data = data.reshape(-1)
    return data == 1, data != ignore_index


@METRICS.register_module()
class ReferMetric(BaseMetric):
    """oIoU, mIoU and Pr@50..90 over (image, sentence) samples.

    Reads per data sample ``pred_sem_seg.data`` and ``gt_sem_seg.data``
    (1 x H x W, binary, original image size; gt pixels equal to
    ``ignore_index`` are left out), and from the metainfo ``no_target``
    (gRefCOCO), ``expr_type``, ``sent_id``/``img_path``/``text`` (dump).

    ``process`` stores only per-sample integers (intersection, union, sizes),
    so ``compute_metrics`` after mmengine's cross-rank collection is exact.

    Keys (percent, 2 decimals):

    - ``oIoU`` = sum(I) / sum(U) over all samples;
    - ``mIoU`` = mean per-sample IoU (prediction and target both empty:
      ``empty_union_iou``, 1 by default);
    - ``Pr@X`` = % of samples with IoU >= X / 100 (all samples by default,
      or the targeted ones only: ``precision_samples``);
    - ``oIoU/<type>`` per expression type when samples carry ``expr_type``;
    - with ``grefcoco=True`` also ``gIoU`` (mean per-sample IoU where a
      no-target sample scores 1 iff the prediction is empty, else 0),
      ``cIoU`` (= sum(I) / sum(U)), ``N-acc`` (no-target samples predicted
      empty / no-target samples) and ``T-acc`` (targeted samples predicted
      non-empty / targeted samples).

    Peers score the same predictions differently, and only where a target
    or a prediction is empty (gRefCOCO; RefCOCO and PhraseCut have no empty
    target). Two switches reproduce them:

    - ``empty_union_iou=0.0``: a sample whose prediction and target are both
      empty scores IoU 0 in ``mIoU`` and ``Pr@X`` (mmdet's
      ``RefSegMetric``, the LAVT and CRIS test scripts); 1 by default.
    - ``precision_samples='targeted'``: ``Pr@X`` counts only the samples
      that have a target (metainfo ``no_target`` False), as ReLA's gRefCOCO
      evaluation does; ``'all'`` (default) counts every sample.

    ``gIoU``, ``N-acc`` and ``T-acc`` follow ReLA whatever the switches say.

    Args:
        grefcoco (bool): Add the gRefCOCO keys. Defaults to False.
        empty_union_iou (float): IoU of a sample whose prediction and target
            are both empty, 1.0 or 0.0. Defaults to 1.0.
        precision_samples (str): ``'all'`` or ``'targeted'``, the samples
            ``Pr@X`` counts. Defaults to ``'all'``.
        dump_file (str, optional): Write a JSON list of per-sample
            ``{sample_id, text, iou}`` there (main process). Defaults to None.
        ignore_index (int): gt value left out. Defaults to 255.
        collect_device, prefix: see :class:`mmengine.evaluator.BaseMetric`.
    """

    default_prefix: Optional[str] = None

    def __init__(self,
                 grefcoco: bool = False,
                 empty_union_iou: float = 1.0,
                 precision_samples: str = 'all',
                 dump_file: Optional[str] = None,
                 ignore_index: int = 255,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if empty_union_iou not in (0.0, 1.0):
            raise ValueError(f'ReferMetric: empty_union_iou must be 1.0 or '
                             f'0.0, got {empty_union_iou!r}')
        if precision_samples not in PRECISION_SAMPLES:
            raise ValueError(f'ReferMetric: precision_samples must be one of '
                             f'{PRECISION_SAMPLES}, got {precision_samples!r}')
        self.grefcoco = grefcoco
        self.empty_union_iou = float(empty_union_iou)
        self.precision_samples = precision_samples
        self.dump_file = dump_file
        self.ignore_index = ignore_index

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            pred = sample['pred_sem_seg']['data']
            gt = sample['gt_sem_seg']['data'].to(pred.device)
            target, valid = _binary(gt, self.ignore_index)
            pred = (pred.reshape(-1) == 1) & valid
            inter = int((pred & target).sum())
            union = int((pred | target).sum())
            sample_id = sample.get('sent_id', sample.get('img_path'))
            self.results.append(
                dict(
                    inter=inter,
                    union=union,
                    pred_area=int(pred.sum()),
                    gt_area=int(target.sum()),
                    no_target=bool(sample.get('no_target', False)),
                    expr_type=sample.get('expr_type'),
                    sample_id=sample_id,
                    img_path=sample.get('img_path'),
                    text=sample.get('text')))

    def sample_iou(self, result: dict) -> float:
        """Per-sample IoU; both empty scores ``empty_union_iou``."""
        if result['union'] == 0:
            return self.empty_union_iou
        return result['inter'] / result['union']

    @staticmethod
    def _pct(value: float) -> float:
        return round(100.0 * float(value), 2)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        if not results:
            raise ValueError('ReferMetric got no samples')
        inter = np.array([r['inter'] for r in results], dtype=np.int64)
        union = np.array([r['union'] for r in results], dtype=np.int64)
        ious = np.array([self.sample_iou(r) for r in results])
        metrics: Dict[str, float] = OrderedDict()
        metrics['oIoU'] = self._pct(inter.sum() / max(union.sum(), 1))
        metrics['mIoU'] = self._pct(ious.mean())
        counted = ious
        if self.precision_samples == 'targeted':
            counted = ious[~np.array([r['no_target'] for r in results])]
        for x in PR_THRESHOLDS:
            metrics[f'Pr@{x}'] = self._pct(
                (counted >= x / 100).mean()) if counted.size else 0.0

        by_type: Dict[str, list] = defaultdict(lambda: [0, 0])
        for r in results:
            if r.get('expr_type') is not None:
                by_type[r['expr_type']][0] += r['inter']
                by_type[r['expr_type']][1] += r['union']
        for name in sorted(by_type):
            i, u = by_type[name]
            metrics[f'oIoU/{name}'] = self._pct(i / max(u, 1))

        if self.grefcoco:
            metrics.update(self._grefcoco(results, ious, inter, union))
        if self.dump_file:
            self._dump(results, ious)
        return metrics

    def _grefcoco(self, results: List[dict], ious: np.ndarray,
                  inter: np.ndarray, union: np.ndarray) -> Dict[str, float]:
        no_target = np.array([r['no_target'] for r in results])
        pred_empty = np.array([r['pred_area'] == 0 for r in results])
        g = np.where(no_target, pred_empty.astype(float), ious)
        out = OrderedDict()
        out['gIoU'] = self._pct(g.mean())
        out['cIoU'] = self._pct(inter.sum() / max(union.sum(), 1))
        out['N-acc'] = self._pct(pred_empty[no_target].mean()) \
            if no_target.any() else 0.0
        out['T-acc'] = self._pct((~pred_empty[~no_target]).mean()) \
            if (~no_target).any() else 0.0
        return out

    def _dump(self, results: List[dict], ious: np.ndarray) -> None:
        rows = [
            dict(
                sample_id=r['sample_id'],
                img_path=r['img_path'],
                text=r['text'],
                iou=round(float(iou), 6)) for r, iou in zip(results, ious)
        ]
        folder = osp.dirname(self.dump_file)
        if folder:
            os.makedirs(folder, exist_ok=True)
        with open(self.dump_file, 'w', encoding='utf-8') as f:
            json.dump(rows, f, indent=1)
        print_log(f'ReferMetric: per-sample IoU written to {self.dump_file}',
                  logger='current')
