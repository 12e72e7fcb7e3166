"""On-disk cache of a frozen visual encoder's outputs (raw features).

Layout of a cache directory (written by
``tools/analysis_tools/cache_features.py``)::

    index.json         {"version": 2, "fingerprint": backbone.fingerprint(),
                        "dtype": "float16", "input_size": [S, S],
                        "tap_shapes": [[C_1, h_1, w_1], ...], "shards": [...],
                        "images": {img_key: [shard_idx, row]}, "mb_per_image",
                        "complete": true}
    shard_00000.pt     a list of T tensors, n x C_t x h_t x w_t (n <= shard_size)

``mb_per_image`` is in MiB (2**20 bytes): all taps of one image in the
cache's dtype.

Written to survive an interruption: every shard goes to a temporary file that
is then renamed, and the index is rewritten (the same way) after each shard,
with ``"complete": false`` until the writer closes. A writer started on a
folder with such an index (same fingerprint, input size and dtype) keeps its
shards and images and goes on from there; the reader refuses an incomplete
cache. With several writers (``rank``/``world_size``, one per process of a
distributed launcher) each writes ``shard_r<rank>_00000.pt`` ... and its own
running ``index.rank<rank>.json``; :func:`merge_rank_indexes` joins them into
``index.json``. Every image's features are checked to be finite before they
are written.

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
from collections import OrderedDict
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor

__all__ = ['FeatureCache', 'FeatureCacheMismatch', 'FeatureCacheWriter',
           'merge_rank_indexes', 'to_device_float']

INDEX = 'index.json'
VERSION = 2
DTYPES = {'float16': torch.float16, 'bfloat16': torch.bfloat16,
          'float32': torch.float32}


def to_device_float(t: Tensor, device: torch.device) -> Tensor:
    """Host maps (in the cache's dtype) -> fp32 on ``device``: pinned and
    copied without blocking to a GPU, made float there (half the bytes
    cross the bus for an fp16 cache)."""
    device = torch.device(device)
    if device.type == 'cuda':
        t = t.pin_memory()
    return t.to(device, non_blocking=True).float()


class FeatureCacheMismatch(RuntimeError):
    """The cache was written by a different frozen encoder."""


def _write_atomic(path: str, write) -> None:
    """``write(tmp_path)``, then rename onto ``path``: a reader (or a later
    run) sees the old file or the whole new one, never a part."""
    tmp = osp.join(osp.dirname(path), f'.{osp.basename(path)}.tmp')
    write(tmp)
    os.replace(tmp, path)


def _write_json(path: str, obj: dict) -> None:
    def dump(tmp: str) -> None:
        with open(tmp, 'w') as f:
            json.dump(obj, f, indent=1)
    _write_atomic(path, dump)


def _mb_per_image(index: dict) -> float:
    numel = sum(c * h * w for c, h, w in index['tap_shapes'] or [])
    return round(numel * DTYPES[index['dtype']].itemsize / 2**20, 3)


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
    """Accumulates per-image taps and writes shards + the index.

    Args:
        out_dir: cache directory (created).
        fingerprint: ``backbone.fingerprint()`` of the writing model.
        input_size: padded ``(S, S)`` the encoder saw.
        dtype: ``'float16'`` (default), ``'bfloat16'`` or ``'float32'``.
        shard_size: images per shard file.
        rank, world_size: this writer's place among the processes writing
            one cache together (``world_size > 1``: rank-named shards and
            index, joined by :func:`merge_rank_indexes`).

    A running index of the same writer (same rank) already in ``out_dir``
    is continued: its shards are kept, its images are not written again
    (:meth:`__contains__` tells the caller which to skip). One written by a
    different encoder, input size or dtype is refused
    (:class:`FeatureCacheMismatch`).
    """

    def __init__(self, *, out_dir: str, fingerprint: dict,
                 input_size: Sequence[int], dtype: str = 'float16',
                 shard_size: int = 64, rank: int = 0,
                 world_size: int = 1) -> None:
        if dtype not in DTYPES:
            raise ValueError(f'dtype must be one of {list(DTYPES)}')
        os.makedirs(out_dir, exist_ok=True)
        self.out_dir = out_dir
        self.rank, self.world_size = rank, world_size
        self.index_file = INDEX if world_size == 1 else \
            f'index.rank{rank}.json'
        self.index = dict(version=VERSION, fingerprint=fingerprint,
                          input_size=list(input_size), dtype=dtype,
                          tap_shapes=None, shards=[], images={})
        self.shard_size = shard_size
        self._pending: List[List[Tensor]] = []
        self._pending_keys: List[str] = []
        self.resumed = self._resume()

    def _resume(self) -> int:
        """Continue the running index in ``out_dir``; returns how many
        images it already holds."""
        path = osp.join(self.out_dir, self.index_file)
        if not osp.isfile(path):
            return 0
        with open(path) as f:
            old = json.load(f)
        diff = None
        if old.get('version') != VERSION:
            diff = f'format version (cache: {old.get("version")}, ' \
                f'this writer: {VERSION})'
        for key in ('fingerprint', 'input_size', 'dtype'):
            diff = diff or _first_difference(
                {key: old.get(key)}, {key: self.index[key]})
        if diff:
            raise FeatureCacheMismatch(
                f'feature cache {self.out_dir} holds another cache: {diff}; '
                'choose another folder or delete it')
        self.index.update(old)  # complete / mb_per_image: rewritten on write
        return len(self.index['images'])

    def __contains__(self, key: Optional[str]) -> bool:
        """Whether the image is written or waiting for its shard."""
        return key in self.index['images'] or key in self._pending_keys

    def add(self, key: str, taps: Sequence[Tensor]) -> None:
        """Store one image: ``taps`` = T tensors ``C_t x h_t x w_t``."""
        if key in self:
            return
        taps = [t.detach().cpu().to(DTYPES[self.index['dtype']])
                for t in taps]
        if not all(bool(torch.isfinite(t).all()) for t in taps):
            raise ValueError(f'feature cache {self.out_dir}: image {key} has '
                             f'non-finite features in '
                             f'{self.index["dtype"]} (nan or inf); nothing '
                             'of it is written')
        shapes = [list(t.shape) for t in taps]
        if self.index['tap_shapes'] is None:
            self.index['tap_shapes'] = shapes
        elif shapes != self.index['tap_shapes']:
            raise ValueError(f'feature cache {self.out_dir}: image {key} has '
                             f'maps {shapes}, the cache holds '
                             f'{self.index["tap_shapes"]}')
        self._pending.append(taps)
        self._pending_keys.append(key)
        if len(self._pending) == self.shard_size:
            self._flush()

    def _shard_name(self, i: int) -> str:
        return f'shard_{i:05d}.pt' if self.world_size == 1 else \
            f'shard_r{self.rank}_{i:05d}.pt'

    def _write_index(self, complete: bool) -> None:
        self.index['mb_per_image'] = _mb_per_image(self.index)
        self.index['complete'] = complete
        _write_json(osp.join(self.out_dir, self.index_file), self.index)

    def _flush(self) -> None:
        if not self._pending:
            return
        i = len(self.index['shards'])
        name = self._shard_name(i)
        shard = [torch.stack(level) for level in zip(*self._pending)]
        _write_atomic(osp.join(self.out_dir, name),
                      lambda tmp: torch.save(shard, tmp))
        self.index['shards'].append(name)
        for row, key in enumerate(self._pending_keys):
            self.index['images'][key] = [i, row]
        self._pending, self._pending_keys = [], []
        self._write_index(complete=False)

    def close(self) -> dict:
        """Write the last shard and the finished index; returns the index."""
        self._flush()
        self._write_index(complete=True)
        return self.index


def merge_rank_indexes(out_dir: str, world_size: int) -> dict:
    """Join the finished indexes of ``world_size`` writers into
    ``index.json`` (rank order); an image two ranks hold is refused."""
    merged = None
    for rank in range(world_size):
        path = osp.join(out_dir, f'index.rank{rank}.json')
        if not osp.isfile(path):
            raise FileNotFoundError(f'feature cache {out_dir}: no {path} '
                                    f'(rank {rank} did not finish)')
        with open(path) as f:
            part = json.load(f)
        if not part.get('complete'):
            raise FeatureCacheMismatch(f'feature cache {out_dir}: rank '
                                       f'{rank} did not finish its part')
        if not part['images'] and (merged is not None or rank + 1 < world_size):
            continue  # a rank without images (fewer images than ranks)
        if merged is None:
            merged = dict(part, shards=[], images={})
        for key in ('fingerprint', 'input_size', 'dtype'):
            diff = _first_difference({key: merged[key]}, {key: part[key]})
            if diff:
                raise FeatureCacheMismatch(
                    f'feature cache {out_dir}: rank {rank} wrote another '
                    f'cache: {diff}')
        offset = len(merged['shards'])
        merged['shards'] += part['shards']
        for key, (shard, row) in part['images'].items():
            if key in merged['images']:
                raise FeatureCacheMismatch(
                    f'feature cache {out_dir}: image {key} written by two '
                    'ranks')
            merged['images'][key] = [shard + offset, row]
    # complete and mb_per_image carry over from the (finished, equal) parts
    _write_json(osp.join(out_dir, INDEX), merged)
    return merged


class FeatureCache:
    """Read side: maps image keys to cached raw taps.

    Shards are memory-mapped when first read; at most ``max_open_shards``
    stay open (the least recently used one is let go), so a long run does
    not keep every shard of a 500 GB cache mapped.

    Args:
        cache_dir: a directory written by :class:`FeatureCacheWriter`.
        max_open_shards: shards kept open at once.
    """

    def __init__(self, cache_dir: str, max_open_shards: int = 4) -> None:
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
        if self.index.get('complete') is False:
            raise FeatureCacheMismatch(
                f'feature cache {cache_dir} is incomplete '
                f'({len(self.index["images"])} images written): run '
                'tools/analysis_tools/cache_features.py with the same '
                'arguments again to finish it')
        self.cache_dir = cache_dir
        self.max_open_shards = max(1, max_open_shards)
        self._shards: 'OrderedDict[int, List[Tensor]]' = OrderedDict()
        self._verified = False
        self._verified_for: Optional[tuple] = None

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
        """:meth:`verify` on first use, and again only when ``fingerprint``
        or ``input_size`` differ from the last verified ones (a comparison
        of two small dicts: the backbone keeps its weights' digest, see
        :func:`~projects.risam.models.backbones.state_fingerprint`)."""
        seen = (fingerprint, list(input_size))
        if not self._verified or seen != self._verified_for:
            self._verified = False
            self.verify(fingerprint, input_size)
            self._verified_for = seen

    def _shard(self, i: int) -> List[Tensor]:
        if i in self._shards:
            self._shards.move_to_end(i)
        else:
            self._shards[i] = torch.load(
                osp.join(self.cache_dir, self.index['shards'][i]),
                map_location='cpu', weights_only=True, mmap=True)
            while len(self._shards) > self.max_open_shards:
                self._shards.popitem(last=False)
        return self._shards[i]

    def read(self, key: str) -> List[Tensor]:
        """The T raw maps of one image, ``C_t x h_t x w_t`` each, in the
        cache's dtype, copied out of the shard (a copy, so that a dataloader
        worker sends the image's maps, not the whole mapped shard)."""
        shard, row = self.index['images'][key]
        return [t[row].clone() for t in self._shard(shard)]

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
            to_device_float(torch.stack([self._shard(s)[t][r]
                                         for s, r in where]), device)
            for t in range(levels))
