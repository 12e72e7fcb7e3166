"""One frozen image encoding per image: the image identity rule, the shared
encoding of a batch's distinct images, and the on-disk frozen-feature cache.

Used by the :class:`~projects.risam.models.RISAM` segmentor (through the
backbone's ``encode``/``fingerprint``), by
``tools/analysis_tools/cache_features.py`` and by
:class:`~projects.risam.datasets.ImageGroupedSampler`.
"""
from .feature_cache import FeatureCache, FeatureCacheMismatch, FeatureCacheWriter
from .image_identity import SAME_IMAGE_KEY, image_key
from .shared_encoding import CACHED_TAPS_KEY, encode_images

__all__ = ['CACHED_TAPS_KEY', 'SAME_IMAGE_KEY', 'FeatureCache', 'FeatureCacheMismatch',
           'FeatureCacheWriter', 'encode_images', 'image_key']
