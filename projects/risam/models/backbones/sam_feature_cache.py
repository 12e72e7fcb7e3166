"""On-disk cache of the frozen SAM encoder's outputs (raw block taps).

Layout of a cache directory (written by
``tools/analysis_tools/cache_features.py``)::

    index.json         {"version": 1, "fingerprint": SAMBackbone.fingerprint(),
                        "dtype": "float16", "input_size": [S, S],
                        "tap_shape": [T, C_e, h, w], "shards": [...],
                        "images": {img_key: [shard_idx, row]}, "mb_per_image"}
    shard_00000.pt     one tensor, n x T x C_e x h x w (n <= shard_size)

``img_key`` is ``str(img_id)`` (see :func:`image_key`). Shards hold plain
tensors only, so they are read with ``torch.load(weights_only=True)``
(memory-mapped). A cache refuses, with one line naming the directory and
what differs, to serve a backbone whose :meth:`SAMBackbone.fingerprint`
(encoder config, tapped blocks, sha256 of the encoder weights) or padded
input size differs from the one it was written with.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from torch import Tensor

__all__ = ['SAMFeatureCache', 'SAMFeatureCacheWriter', 'FeatureCacheMismatch',
           'image_key']

INDEX = 'index.json'
DTYPES = {'float16': torch.float16, 'bfloat16': torch.bfloat16,
          'float32': torch.float32}


class FeatureCacheMismatch(RuntimeError):
    """The cache was written by a different frozen encoder."""


def image_key(meta: Mapping) -> Optional[str]:
    """The identity of a sample's image: ``img_id``, else ``img_path``."""
    if meta.get('img_id') is not None:
        return str(meta['img_id'])
    if meta.get('img_path') is not None:
        return str(meta['img_path'])
    return None


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


class SAMFeatureCacheWriter:
    """Accumulates per-image taps and writes shards + ``index.json``.

    Args:
        out_dir: cache directory (created).
        fingerprint: ``SAMBackbone.fingerprint()`` of the writing model.
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
        self.index = dict(version=1, fingerprint=fingerprint,
                          input_size=list(input_size), dtype=dtype,
                          tap_shape=None, shards=[], images={})
        self.shard_size = shard_size
        self._pending: List[Tensor] = []

    def add(self, key: str, taps: Sequence[Tensor]) -> None:
        """Store one image: ``taps`` = T tensors ``C_e x h x w``."""
        if key in self.index['images']:
            return
        stacked = torch.stack([t.detach().cpu() for t in taps]).to(
            DTYPES[self.index['dtype']])
        self.index['tap_shape'] = list(stacked.shape)
        self.index['images'][key] = [len(self.index['shards']),
                                     len(self._pending)]
        self._pending.append(stacked)
        if len(self._pending) == self.shard_size:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        name = f'shard_{len(self.index["shards"]):05d}.pt'
        torch.save(torch.stack(self._pending), osp.join(self.out_dir, name))
        self.index['shards'].append(name)
        self._pending = []

    def close(self) -> dict:
        """Write the last shard and the index; returns the index."""
        self._flush()
        shape = self.index['tap_shape'] or [0]
        numel = 1
        for s in shape:
            numel *= s
        self.index['mb_per_image'] = round(
            numel * DTYPES[self.index['dtype']].itemsize / 2**20, 3)
        with open(osp.join(self.out_dir, INDEX), 'w') as f:
            json.dump(self.index, f, indent=1)
        return self.index


class SAMFeatureCache:
    """Read side: maps image keys to cached raw taps.

    Args:
        cache_dir: a directory written by :class:`SAMFeatureCacheWriter`.
    """

    def __init__(self, cache_dir: str) -> None:
        path = osp.join(cache_dir, INDEX)
        if not osp.isfile(path):
            raise FileNotFoundError(f'feature cache {cache_dir}: no {INDEX} '
                                    '(write it with tools/analysis_tools/'
                                    'cache_features.py)')
        with open(path) as f:
            self.index = json.load(f)
        self.cache_dir = cache_dir
        self._shards: Dict[int, Tensor] = {}
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

    def _shard(self, i: int) -> Tensor:
        if i not in self._shards:
            self._shards[i] = torch.load(
                osp.join(self.cache_dir, self.index['shards'][i]),
                map_location='cpu', weights_only=True, mmap=True)
        return self._shards[i]

    def lookup(self, keys: Sequence[str],
               device: torch.device) -> Tuple[Tensor, ...]:
        """Taps of ``keys`` -> T tensors ``len(keys) x C_e x h x w`` (fp32).

        :meth:`verify` must have passed first.
        """
        if not self._verified:
            raise RuntimeError(f'feature cache {self.cache_dir}: call '
                               'verify() with the model fingerprint first')
        rows = [self._shard(s)[r] for s, r in
                (self.index['images'][k] for k in keys)]
        stacked = torch.stack(rows).to(device=device, dtype=torch.float32)
        return tuple(stacked.unbind(1))
