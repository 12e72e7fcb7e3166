"""gRefCOCO: generalised referring expressions (zero, one or many targets).

Files read::

    <data_root>/grefcoco/grefs(unc).json   list of refs like RefCOCO's, but
        ``ann_id`` (and ``category_id``) may be lists; ``[-1]`` = no target
    <data_root>/grefcoco/instances.json    COCO annotations

A no-target sentence yields an all-zero mask and ``no_target=True``; several
targets yield the union of their masks.
"""
from ..registry import DATASETS
from .refer_dataset import ReferDataset

__all__ = ['GReferDataset']


@DATASETS.register_module()
class GReferDataset(ReferDataset):
    """gRefCOCO in the refer layout; arguments as :class:`ReferDataset`."""

    allow_no_target = True
    SPLITS = ('train', 'val', 'testA', 'testB')

    def __init__(self,
                 ann_file: str = 'grefcoco/instances.json',
                 split_file: str = 'grefcoco/grefs(unc).json',
                 **kwargs) -> None:
        super().__init__(ann_file=ann_file, split_file=split_file, **kwargs)
