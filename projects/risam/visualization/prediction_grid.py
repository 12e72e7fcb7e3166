"""Predictions of one or several models on the same test samples: the
paper's Fig. 6 (MA, TE, SDF and BCM side by side, one column per model) and
the sample tiles of Figs. 9 and 10."""
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmengine.dataset import pseudo_collate

from .overlay import grid, overlay, text_band
from .sample_picking import pick_by_iou, sample_iou

#: Width in pixels of the sentence column of :func:`model_grid`.
LABEL_WIDTH = 224
WHITE = (255, 255, 255)


@dataclass
class SamplePrediction:
    """One model's prediction on one test sample, at the image's size.

    Attributes:
        index: the sample's index in the dataset.
        img_path: the image file.
        text: the sentence.
        pred: H x W bool, the predicted mask.
        gt: H x W bool, the target (all False for a no-target sentence).
        no_target: whether the sentence refers to nothing (gRefCOCO).
    """
    index: int
    img_path: str
    text: str
    pred: np.ndarray
    gt: np.ndarray
    no_target: bool = False

    @property
    def iou(self) -> float:
        """:func:`~.sample_picking.sample_iou` of the prediction."""
        return sample_iou(self.pred, self.gt)

    @property
    def caption(self) -> str:
        """The sentence, marked "(no target)" where the target is empty."""
        return self.text + (' (no target)' if self.no_target else '')


def iter_predictions(model: torch.nn.Module,
                     dataset,
                     indices: Sequence[int],
                     batch_size: int = 8) -> Iterator[SamplePrediction]:
    """``model.test_step`` on ``dataset[i]`` for each of ``indices``, in
    that order, ``batch_size`` samples at a time, without gradients."""
    indices = list(indices)
    with torch.no_grad():
        for start in range(0, len(indices), batch_size):
            chunk = indices[start:start + batch_size]
            batch = pseudo_collate([dataset[i] for i in chunk])
            for index, sample in zip(chunk, model.test_step(batch)):
                yield SamplePrediction(
                    index=index,
                    img_path=sample.img_path,
                    text=sample.text,
                    pred=sample.pred_sem_seg.data[0].cpu().numpy() > 0,
                    gt=sample.gt_sem_seg.data[0].cpu().numpy() == 1,
                    no_target=bool(sample.metainfo.get('no_target', False)))


def predict(model: torch.nn.Module,
            dataset,
            indices: Sequence[int],
            batch_size: int = 8) -> List[SamplePrediction]:
    """:func:`iter_predictions` as a list."""
    return list(iter_predictions(model, dataset, indices, batch_size))


def sample_ious(model: torch.nn.Module,
                dataset,
                indices: Sequence[int],
                batch_size: int = 8) -> List[float]:
    """:attr:`SamplePrediction.iou` of each of ``indices``; the masks are
    not kept (a whole split can be ranked)."""
    return [p.iou for p in iter_predictions(model, dataset, indices,
                                            batch_size)]


def predict_picked(model: torch.nn.Module,
                   dataset,
                   pool: Sequence[int],
                   num: int,
                   pick: str,
                   batch_size: int = 8) -> List[SamplePrediction]:
    """The model's predictions on the ``num`` samples of ``pool`` that
    :func:`~.sample_picking.pick_by_iou` chooses by its IoU (``pick``:
    best, worst or spread), in that order. The pool is ranked by
    :func:`sample_ious` and the chosen samples are predicted again."""
    pool = list(pool)
    chosen = pick_by_iou(sample_ious(model, dataset, pool, batch_size), num,
                         pick)
    return predict(model, dataset, [pool[k] for k in chosen], batch_size)


def model_columns(paths: Sequence[str],
                  labels: Optional[Sequence[str]] = None
                  ) -> List[Tuple[str, str, str]]:
    """``(config, checkpoint, label)`` of each model from the command
    line's ``CONFIG CKPT [CONFIG CKPT ...]``; the label is the config's
    name unless ``labels`` gives one per model.

    Raises:
        ValueError: an odd number of paths, or a label count that is not the
            model count (one line each).
    """
    if not paths or len(paths) % 2:
        raise ValueError(
            f'expected CONFIG CKPT pairs, got {len(paths)} path(s): '
            f'{" ".join(paths)}')
    configs, ckpts = list(paths[0::2]), list(paths[1::2])
    if labels is None:
        labels = [Path(c).stem for c in configs]
    elif len(labels) != len(configs):
        raise ValueError(
            f'--labels gives {len(labels)} label(s) ({" ".join(labels)}) '
            f'for {len(configs)} model(s)')
    return list(zip(configs, ckpts, labels))


def _tile(p: SamplePrediction, text: Optional[str]) -> np.ndarray:
    img = cv2.imread(p.img_path, cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f'cannot read image {p.img_path}')
    return overlay(img, p.pred.astype(np.uint8), text, gt=p.gt)


def sample_tiles(preds: Sequence[SamplePrediction],
                 cols: int,
                 show_iou: bool = False) -> np.ndarray:
    """One model's predictions as tiles of :func:`~.overlay.overlay` (the
    prediction tinted, the target outlined in green, the sentence on top,
    with its IoU when ``show_iou``), ``cols`` per row."""
    tiles = [_tile(p, p.caption + (f' [IoU {p.iou:.2f}]' if show_iou else ''))
             for p in preds]
    return grid(tiles, cols)


def _pad(img: np.ndarray, h: int, w: int, value=WHITE) -> np.ndarray:
    return cv2.copyMakeBorder(img, 0, h - img.shape[0], 0, w - img.shape[1],
                              cv2.BORDER_CONSTANT, value=value)


def model_grid(rows: Sequence[Sequence[SamplePrediction]],
               labels: Sequence[str],
               row_notes: Optional[Sequence[str]] = None) -> np.ndarray:
    """Fig. 6: one row per sample, one column per model.

    Row ``r`` starts with the sentence of ``rows[r]`` (and ``row_notes[r]``
    after it) in a black cell :data:`LABEL_WIDTH` pixels wide; its column
    ``j`` is model ``j``'s prediction ``rows[r][j]`` drawn by
    :func:`~.overlay.overlay` without a band (prediction tinted, target
    outlined in green). ``labels[j]`` heads column ``j``. Every column is as
    wide as the widest tile; shorter or narrower tiles are padded with
    white at the bottom and right.
    """
    if not rows:
        raise ValueError('model_grid() needs at least one sample')
    if any(len(r) != len(labels) for r in rows):
        raise ValueError(f'every row needs one prediction for each of the '
                         f'{len(labels)} models')
    tiles = [[_tile(p, None) for p in row] for row in rows]
    w = max(t.shape[1] for row in tiles for t in row)
    heads = [text_band(label, w) for label in labels]
    head_h = max(b.shape[0] for b in heads)
    lines = [np.concatenate(
        [np.zeros((head_h, LABEL_WIDTH, 3), np.uint8)] +
        [_pad(b, head_h, w, value=(0, 0, 0)) for b in heads], 1)]
    for r, (row, row_tiles) in enumerate(zip(rows, tiles)):
        text = row[0].caption + (f' {row_notes[r]}' if row_notes else '')
        band = text_band(text, LABEL_WIDTH)
        h = max([t.shape[0] for t in row_tiles] + [band.shape[0]])
        lines.append(np.concatenate(
            [_pad(band, h, LABEL_WIDTH, value=(0, 0, 0))] +
            [_pad(t, h, w) for t in row_tiles], 1))
    return np.concatenate(lines, 0)
