"""Data transforms of the referring datasets (registration on import)."""
from .cached_features import LoadCachedFeatures
from .loading import LoadReferAnnotations, decode_segmentation, union_mask

__all__ = ['LoadCachedFeatures', 'LoadReferAnnotations', 'decode_segmentation',
           'union_mask']
