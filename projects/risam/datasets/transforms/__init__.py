"""Data transforms of the referring datasets (registration on import)."""
from .loading import LoadReferAnnotations, decode_segmentation, union_mask

__all__ = ['LoadReferAnnotations', 'decode_segmentation', 'union_mask']
