"""On-disk cache of a frozen visual encoder's outputs (raw features).

Layout of a cache directory (written by
``tools/analysis_tools/cache_features.py``)::

    index.json         {"version": 2, "fingerprint": backbone.fingerprint(),
                        "dtype": "float16", "input_size": [S, S],
                        "tap_shapes": [[C_1, h_1, w_1], ...], "shards": [...],
                        "images": {img_key: [shard_idx, row]}, "mb_per_image"}
    shard_00000.pt     a list of T tensors, n x C_t x h_t x w_t (n <= shard_size)

The T raw maps of ``backbone.encode`` may differ in size (a Swin pyramid) or
not (SAM's taps).

``img_key`` is :func:`~.image_identity.image_key` of the sample. Shards hold plain
tensors only, so they are read with ``torch.load(weights_only=True)``
(memory-mapped). A cache refuses, with one line naming the directory and
what differs, to serve a backbone whose ``fingerprint()`` (encoder config,
tapped blocks, sha256 of the encoder weights) or padded input size differs
from the one it was written with.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

__all__ = ['FeatureCache', 'FeatureCacheMismatch', 'FeatureCacheWriter']

INDEX = 'index.json'
VERSION = 2
DTYPES = {'float16': torch.float16, 'bfloat16': torch.bfloat16,
          'float32': torch.float32}


class FeatureCacheMismatch(RuntimeError):
    """The cache was written by a different frozen encoder."""


def _first_difference(cached, model, path: str = '') -> Optional[str]:
    if isinstance(cached, dict) and isinstance(model, dict):
        for k in sorted(set(cached) | set(model)):
            diff = _first_difference(cached.get(k), model.get(k),
                                     f'{path}.{k}' if path else k)
            if diff:
                return diff
        return None
    if isinstance(cached, (list, tuple)) and isinstance(model, (list, tuple)):
        cached, model = list(cached), list(model)
    return None if cached == model else \
        f'{path} (cache: {cached}, model: {model})'


class FeatureCacheWriter:
    """Accumulates per-image taps and writes shards + ``index.json``.

    Args:
        out_dir: cache directory (created).
        fingerprint: ``backbone.fingerprint()`` of the writing model.
        input_size: padded ``(S, S)`` the encoder saw.
        dtype: ``'float16'`` (default), ``'bfloat16'`` or ``'float32'``.
        shard_size: images per shard file.
    """

    def __init__(self, *, out_dir: str, fingerprint: dict,
                 input_size: Sequence[int], dtype: str = 'float16',
                 shard_size: int = 64) -> None:
        if dtype not in DTYPES:
            raise ValueError(f'dtype must be one of {list(DTYPES)}')
        os.makedirs(out_dir, exist_ok=True)
        self.out_dir = out_dir
        self.index = dict(version=VERSION, fingerprint=fingerprint,
                          input_size=list(input_size), dtype=dtype,
                          tap_shapes=None, shards=[], images={})
        self.shard_size = shard_size
        self._pending: List[List[Tensor]] = []

    def add(self, key: str, taps: Sequence[Tensor]) -> None:
        """Store one image: ``taps`` = T tensors ``C_t x h_t x w_t``."""
        if key in self.index['images']:
            return
        taps = [t.detach().cpu().to(DTYPES[self.index['dtype']])
                for t in taps]
        shapes = [list(t.shape) for t in taps]
        if self.index['tap_shapes'] is None:
            self.index['tap_shapes'] = shapes
        elif shapes != self.index['tap_shapes']:
            raise ValueError(f'feature cache {self.out_dir}: image {key} has '
                             f'maps {shapes}, the cache holds '
                             f'{self.index["tap_shapes"]}')
        self.index['images'][key] = [len(self.index['shards']),
                                     len(self._pending)]
        self._pending.append(taps)
        if len(self._pending) == self.shard_size:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        name = f'shard_{len(self.index["shards"]):05d}.pt'
        shard = [torch.stack(level) for level in zip(*self._pending)]
        torch.save(shard, osp.join(self.out_dir, name))
        self.index['shards'].append(name)
        self._pending = []

    def close(self) -> dict:
        """Write the last shard and the index; returns the index."""
        self._flush()
        numel = sum(c * h * w for c, h, w in self.index['tap_shapes'] or [])
        self.index['mb_per_image'] = round(
            numel * DTYPES[self.index['dtype']].itemsize / 2**20, 3)
        with open(osp.join(self.out_dir, INDEX), 'w') as f:
            json.dump(self.index, f, indent=1)
        return self.index


class FeatureCache:
    """Read side: maps image keys to cached raw taps.

    Args:
        cache_dir: a directory written by :class:`FeatureCacheWriter`.
    """

    def __init__(self, cache_dir: str) -> None:
        path = osp.join(cache_dir, INDEX)
        if not osp.isfile(path):
            raise FileNotFoundError(f'feature cache {cache_dir}: no {INDEX} '
                                    '(write it with tools/analysis_tools/'
                                    'cache_features.py)')
        with open(path) as f:
            self.index = json.load(f)
        if self.index.get('version') != VERSION:
            raise FeatureCacheMismatch(
                f'feature cache {cache_dir} has format version '
                f'{self.index.get("version")}, this version reads {VERSION}; '
                'rebuild it with tools/analysis_tools/cache_features.py')
        self.cache_dir = cache_dir
        self._shards: Dict[int, List[Tensor]] = {}
        self._verified = False

    def __contains__(self, key: Optional[str]) -> bool:
        return key is not None and key in self.index['images']

    def __len__(self) -> int:
        return len(self.index['images'])

    def verify(self, fingerprint: dict, input_size: Sequence[int]) -> None:
        """Raise :class:`FeatureCacheMismatch` (one line) on any mismatch."""
        diff = _first_difference(self.index['fingerprint'], fingerprint) \
            or _first_difference(dict(input_size=self.index['input_size']),
                                 dict(input_size=list(input_size)))
        if diff:
            raise FeatureCacheMismatch(
                f'feature cache {self.cache_dir} was written by a different '
                f'frozen encoder: {diff}; rebuild it with '
                'tools/analysis_tools/cache_features.py')
        self._verified = True

    def ensure_compatible(self, fingerprint: dict,
                          input_size: Sequence[int]) -> None:
        """:meth:`verify` on first use; later calls cost nothing."""
        if not self._verified:
            self.verify(fingerprint, input_size)

    def _shard(self, i: int) -> List[Tensor]:
        if i not in self._shards:
            self._shards[i] = torch.load(
                osp.join(self.cache_dir, self.index['shards'][i]),
                map_location='cpu', weights_only=True, mmap=True)
        return self._shards[i]

    def lookup(self, keys: Sequence[str],
               device: torch.device) -> Tuple[Tensor, ...]:
        """Maps of ``keys`` -> T tensors ``len(keys) x C_t x h_t x w_t``
        (fp32).

        :meth:`verify` must have passed first.
        """
        if not self._verified:
            raise RuntimeError(f'feature cache {self.cache_dir}: call '
                               'verify() with the model fingerprint first')
        where = [self.index['images'][k] for k in keys]
        levels = len(self.index['tap_shapes'])
        return tuple(
            torch.stack([self._shard(s)[t][r] for s, r in where]).to(
                device=device, dtype=torch.float32) for t in range(levels))
