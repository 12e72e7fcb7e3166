"""Referring-segmentation datasets and transforms; importing registers them."""
from .base_refer_dataset import BaseReferDataset
from .grefer_dataset import GReferDataset
from .image_grouped_sampler import ImageGroupedSampler, group_indices_by_image
from .phrasecut_dataset import PhraseCutDataset
from .refer_dataset import ReferDataset
from .refer_io import ReferFormatError, RestrictedUnpickler, load_refs
from .transforms import LoadReferAnnotations

__all__ = [
    'BaseReferDataset',
    'GReferDataset',
    'ImageGroupedSampler',
    'LoadReferAnnotations',
    'PhraseCutDataset',
    'ReferDataset',
    'ReferFormatError',
    'RestrictedUnpickler',
    'group_indices_by_image',
    'load_refs'
]
