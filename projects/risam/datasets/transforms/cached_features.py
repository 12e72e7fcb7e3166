"""Read a sample's frozen-encoder maps from the feature cache, in the
dataloader worker that loads the sample."""
import os.path as osp
from typing import Optional

from mmcv.transforms import BaseTransform

from ...image_encoding import CACHED_TAPS_KEY, FeatureCache, image_key
from ...registry import TRANSFORMS

__all__ = ['LoadCachedFeatures']


@TRANSFORMS.register_module()
class LoadCachedFeatures(BaseTransform):
    """Attach the cached raw maps of the sample's image (last in the
    pipeline, after ``PackSegInputs``).

    The maps go into the sample's metainfo under ``cached_taps`` (T tensors
    ``C_t x h_t x w_t`` in the cache's dtype, copied out of their shard) and
    the folder under ``feature_cache``; a sample whose image is not in the
    cache gets neither and is encoded by the model. The model
    (``model.feature_cache``, the same folder) checks the cache against its
    encoder, then pins the maps, copies them to the device without
    blocking and makes them float there. With ``num_workers > 0`` the shards
    are opened (memory-mapped, at most ``max_open_shards`` at a time) in the
    workers only: the training process reads no shard.

    Args:
        cache_dir: a cache written by ``tools/analysis_tools/cache_features.py``.
        max_open_shards: shards each worker keeps open.
    """

    def __init__(self, cache_dir: str, max_open_shards: int = 4) -> None:
        self.cache_dir = cache_dir
        self.max_open_shards = max_open_shards
        self._cache: Optional[FeatureCache] = None  # opened where it runs

    def transform(self, results: dict) -> dict:
        if self._cache is None:
            self._cache = FeatureCache(self.cache_dir, self.max_open_shards)
        sample = results['data_samples']
        key = image_key(sample.metainfo)
        if key in self._cache:
            sample.set_metainfo({CACHED_TAPS_KEY: self._cache.read(key),
                                 'feature_cache': osp.abspath(
                                     self.cache_dir)})
        return results

    def __getstate__(self) -> dict:
        # a worker opens its own cache: never send open shards along
        return dict(self.__dict__, _cache=None)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(cache_dir={self.cache_dir!r}, '
                f'max_open_shards={self.max_open_shards})')
