"""gRefCOCO's metrics split by sentence kind (single, multi, none)."""
from collections import OrderedDict
from typing import Dict, List, Sequence

from ...registry import METRICS
from .refer_metric import ReferMetric

__all__ = ['GeneralizedReferMetric', 'sentence_kind']


def sentence_kind(no_target: bool, n_targets: int) -> str:
    """``'none'`` (no target), ``'single'`` (one) or ``'multi'`` (several)."""
    if no_target or n_targets == 0:
        return 'none'
    return 'single' if n_targets == 1 else 'multi'


@METRICS.register_module()
class GeneralizedReferMetric(ReferMetric):
    """:class:`ReferMetric` in gRefCOCO mode, reported per sentence kind.

    A sample's kind is read from its metainfo: ``none`` when ``no_target``
    is set, else ``single`` or ``multi`` by the number of ``ann_ids`` (add
    ``'ann_ids'`` to ``PackSegInputs``' ``meta_keys``). Keys, besides
    ReferMetric's with ``grefcoco=True`` (oIoU, mIoU, Pr@X, gIoU, cIoU,
    N-acc, T-acc):

    - ``oIoU/single``, ``oIoU/multi``: sum(I) / sum(U) over the targeted
      samples of that kind (``N-acc`` is the no-target kind's figure);
    - ``oIoU/<type>``: per expression type over the *targeted* samples only
      (an empty target has I = 0, so a no-target sample would only add its
      false-positive pixels to a type's union);
    - ``N-acc/<type>``: N-acc per expression type of the no-target samples.

    Arguments as :class:`ReferMetric` (``grefcoco`` is always on).
    """

    def __init__(self, **kwargs) -> None:
        kwargs['grefcoco'] = True
        super().__init__(**kwargs)

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        start = len(self.results)
        super().process(data_batch, data_samples)
        for result, sample in zip(self.results[start:], data_samples):
            if 'ann_ids' not in sample:
                raise KeyError(
                    'GeneralizedReferMetric: sample metainfo has no '
                    "'ann_ids'; add it to PackSegInputs' meta_keys in the "
                    'test pipeline')
            result['kind'] = sentence_kind(result['no_target'],
                                           len(sample['ann_ids']))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        targeted_types = [
            dict(r, expr_type=None) if r['kind'] == 'none' else r
            for r in results
        ]
        metrics = super().compute_metrics(targeted_types)
        extra: Dict[str, float] = OrderedDict()
        for kind in ('single', 'multi'):
            inter = sum(r['inter'] for r in results if r['kind'] == kind)
            union = sum(r['union'] for r in results if r['kind'] == kind)
            if any(r['kind'] == kind for r in results):
                extra[f'oIoU/{kind}'] = self._pct(inter / max(union, 1))
        none_types = sorted({
            r['expr_type'] for r in results
            if r['kind'] == 'none' and r.get('expr_type') is not None
        })
        for name in none_types:
            empty = [r['pred_area'] == 0 for r in results
                     if r['kind'] == 'none' and r['expr_type'] == name]
            extra[f'N-acc/{name}'] = self._pct(sum(empty) / len(empty))
        metrics.update(extra)
        return metrics
