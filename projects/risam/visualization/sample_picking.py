"""Which test samples a figure shows: spread evenly over the split (by
expression type where the samples have one), or chosen by their IoU for the
successes and failures of the paper's Figs. 9 (PhraseCut) and 10
(gRefCOCO)."""
from typing import Dict, List, Optional, Sequence

import numpy as np

#: ``--pick`` choices of ``prediction_grid.py``.
PICKS = ('best', 'worst', 'spread')


def group_label(info: dict) -> Optional[str]:
    """The grid row of a sample: ``'no target'``, ``'multi-target'`` or its
    expression type (None without one)."""
    if info.get('expr_type') is None:
        return None
    if info.get('no_target'):
        return 'no target'
    if len(info.get('ann_ids') or ()) > 1:
        return 'multi-target'
    return info['expr_type']


def pick_samples(types: Sequence[Optional[str]], num: int) -> List[int]:
    """Indices of ``num`` samples spread evenly over the split; with
    expression types, ``num // n_types`` (at least 1) of each type, in the
    order of first appearance, each spread evenly within its type."""
    if not types:
        return []
    if any(t is None for t in types):
        picks = np.linspace(0, len(types) - 1, min(num, len(types)))
        return [int(i) for i in picks.round()]
    groups: Dict[str, List[int]] = {}
    for i, t in enumerate(types):
        groups.setdefault(t, []).append(i)
    per_type = max(1, num // len(groups))
    out = []
    for members in groups.values():
        picks = np.linspace(0, len(members) - 1, min(per_type, len(members)))
        out += [members[int(i)] for i in picks.round()]
    return out


def default_num(types: Sequence[Optional[str]], cols: int) -> int:
    """One row of ``cols`` tiles per group; 20 tiles without groups."""
    groups = set(types)
    return 20 if None in groups or not groups else cols * len(groups)


def sample_iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """IoU = |P ∩ G| / |P ∪ G| of one sample's binary masks; 1 when both
    are empty.

    On generalized data (gRefCOCO, generalized RefShapes) a no-target
    sample has an empty G, so it counts as right (1) when the predicted mask
    is empty and as wrong (0) otherwise, as gIoU counts it.
    """
    pred, gt = np.asarray(pred) > 0, np.asarray(gt) > 0
    union = np.logical_or(pred, gt).sum()
    if union == 0:
        return 1.0
    return float(np.logical_and(pred, gt).sum() / union)


def pick_by_iou(ious: Sequence[float], num: int, pick: str) -> List[int]:
    """Positions in ``ious`` of ``num`` samples chosen by IoU.

    - ``'best'``: the highest IoUs, highest first;
    - ``'worst'``: the lowest IoUs, lowest first;
    - ``'spread'``: evenly spaced ranks from the lowest to the highest IoU
      (both included), lowest first: failures and successes in one figure.

    Equal IoUs keep their order in ``ious`` (a stable sort).
    """
    if pick not in PICKS:
        raise ValueError(f'pick must be one of {PICKS}, got {pick!r}')
    values = np.asarray(ious, dtype=np.float64)
    num = min(num, len(values))
    if num <= 0:
        return []
    if pick == 'best':
        order = np.argsort(-values, kind='stable')
        return [int(i) for i in order[:num]]
    order = np.argsort(values, kind='stable')
    if pick == 'worst':
        return [int(i) for i in order[:num]]
    ranks = np.linspace(0, len(values) - 1, num).round().astype(int)
    return [int(order[r]) for r in ranks]
