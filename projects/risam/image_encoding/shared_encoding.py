"""One frozen-encoder pass per distinct image (shared image encoding)."""
from typing import Hashable, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from .feature_cache import FeatureCache, to_device_float

__all__ = ['CACHED_TAPS_KEY', 'encode_images', 'to_device_float']

#: metainfo key of a sample's cached raw maps, set in the dataloader worker
#: by ``risam.LoadCachedFeatures``
CACHED_TAPS_KEY = 'cached_taps'


def _take(t: Tensor, rows: Sequence[int]) -> Tensor:
    """``t[rows]`` along dim 0 from views: a Python index list would become
    a host tensor copied to ``t``'s device in the middle of the step."""
    if list(rows) == list(range(len(t))):
        return t
    return torch.cat([t[r:r + 1] for r in rows])


def _interleave(hits: Tensor, rest: Tensor, hit: Sequence[int]) -> Tensor:
    """Rows of ``hits`` at the positions ``hit``, rows of ``rest`` (in
    order) everywhere else: a ``torch.cat`` of views, so no index tensor is
    made on the host and copied to the device in the middle of the step."""
    hit_row = {i: r for r, i in enumerate(hit)}
    rows, k = [], 0
    for i in range(len(hits) + len(rest)):
        if i in hit_row:
            rows.append(hits[hit_row[i]:hit_row[i] + 1])
        else:
            rows.append(rest[k:k + 1])
            k += 1
    return torch.cat(rows)


def _encode_distinct(encode, inputs: Tensor, keys: Sequence[str],
                     same: Optional[Sequence[Hashable]] = None
                     ) -> Tuple[Tensor, ...]:
    """``encode`` once per distinct image, expanded back to
    ``B x C_e x h x w``. With ``same`` (one label per sample, from the data
    preprocessor's ``same_image_as``), two samples are one image when their
    labels are equal; without it, when their keys are equal and their input
    tensors are equal (``torch.equal``: a host sync on a GPU)."""
    unique: List[int] = []  # positions in `inputs` that get encoded
    inverse: List[int] = []  # sample -> row of the encoded batch
    for i, key in enumerate(keys):
        if same is not None:
            row = next((r for r, j in enumerate(unique)
                        if same[j] == same[i]), None)
        else:
            row = next((r for r, j in enumerate(unique) if keys[j] == key
                        and torch.equal(inputs[j], inputs[i])), None)
        if row is None:
            row = len(unique)
            unique.append(i)
        inverse.append(row)
    feats = encode(_take(inputs, unique))
    return tuple(_take(t, inverse) for t in feats)


def encode_images(backbone,
                  inputs: Tensor,
                  keys: Optional[Sequence[Optional[str]]],
                  *,
                  share: bool = True,
                  cache: Optional[FeatureCache] = None,
                  same_image_as: Optional[Sequence[Optional[int]]] = None,
                  cached: Optional[Sequence[Optional[Sequence[Tensor]]]] = None
                  ) -> Tuple[Tensor, ...]:
    """Raw features of every sample: ``backbone.encode`` of its image.

    The frozen encoder never sees the text, so the samples (sentences) of one
    image need one pass: with ``share`` each distinct image of the batch is
    encoded once and the result is index-expanded, which gives the outputs,
    losses and gradients of the per-sample path. Images found in ``cache``
    are read from disk instead (the cache is checked against
    ``backbone.fingerprint()`` on first use). Both need
    ``backbone.encoder_frozen`` and an image key per sample
    (:func:`~.image_identity.image_key`); otherwise every sample is encoded.

    Args:
        backbone: a :class:`~projects.risam.models.BaseVisualBackbone`.
        inputs: ``B x 3 x S x S`` preprocessed images.
        keys: one image key per sample, or None.
        share: encode each distinct image once.
        cache: a frozen-feature cache, or None.
        same_image_as: per sample, the batch position of the first sample
            with the same image, as the data preprocessor marks it
            (``RISAMDataPreProcessor``); the images are then not compared
            here. None (or a None entry): compare them (a host sync).
        cached: per sample, its raw maps as a dataloader worker read them
            from ``cache`` (``risam.LoadCachedFeatures``), or None. Given,
            it replaces the lookup in this process: samples with maps are
            hits, the others are encoded.

    Returns:
        tuple of ``B x C_e x h x w`` tensors, as ``backbone.encode(inputs)``.
    """
    if (keys is None or None in keys or not backbone.encoder_frozen
            or not (share or cache is not None)):
        return tuple(backbone.encode(inputs))
    if same_image_as is not None and None in same_image_as:
        same_image_as = None
    live = list(range(len(inputs)))
    hit: List[int] = []
    maps: Tuple[Tensor, ...] = ()
    if cache is not None:
        cache.ensure_compatible(backbone.fingerprint(), inputs.shape[-2:])
        if cached is not None:
            hit = [i for i, c in enumerate(cached) if c is not None]
            maps = tuple(to_device_float(torch.stack(
                [cached[i][t] for i in hit]), inputs.device)
                for t in range(len(cached[hit[0]]))) if hit else ()
        else:
            hit = [i for i, k in enumerate(keys) if k in cache]
            maps = cache.lookup([keys[i] for i in hit],
                                inputs.device) if hit else ()
        live = [i for i in live if i not in hit]
        if not live:
            return maps
    live_keys = [keys[i] for i in live]
    live_inputs = _take(inputs, live)
    if share:
        same = ([same_image_as[i] for i in live]
                if same_image_as is not None else None)
        feats = _encode_distinct(backbone.encode, live_inputs, live_keys,
                                 same)
    else:
        feats = tuple(backbone.encode(live_inputs))
    if not hit:
        return feats
    return tuple(_interleave(m, f, hit) for m, f in zip(maps, feats))
