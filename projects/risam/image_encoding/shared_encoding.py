"""One frozen-encoder pass per distinct image (shared image encoding)."""
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from .feature_cache import FeatureCache

__all__ = ['encode_images']


def _encode_distinct(encode, inputs: Tensor,
                     keys: Sequence[str]) -> Tuple[Tensor, ...]:
    """``encode`` once per distinct image, index-expanded back to
    ``B x C_e x h x w``. Two samples are one image when their keys are equal
    and their input tensors are equal (same augmentation)."""
    unique: List[int] = []  # positions in `inputs` that get encoded
    inverse: List[int] = []  # sample -> row of the encoded batch
    for i, key in enumerate(keys):
        row = next((r for r, j in enumerate(unique)
                    if keys[j] == key and torch.equal(inputs[j], inputs[i])),
                   None)
        if row is None:
            row = len(unique)
            unique.append(i)
        inverse.append(row)
    feats = encode(inputs[unique])
    if len(unique) == len(inputs):
        return tuple(feats)
    index = torch.tensor(inverse, device=inputs.device)
    return tuple(t.index_select(0, index) for t in feats)


def encode_images(backbone,
                  inputs: Tensor,
                  keys: Optional[Sequence[Optional[str]]],
                  *,
                  share: bool = True,
                  cache: Optional[FeatureCache] = None) -> Tuple[Tensor, ...]:
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

    Returns:
        tuple of ``B x C_e x h x w`` tensors, as ``backbone.encode(inputs)``.
    """
    if (keys is None or None in keys or not backbone.encoder_frozen
            or not (share or cache is not None)):
        return tuple(backbone.encode(inputs))
    live = list(range(len(inputs)))
    raw: List[Tensor] = []
    if cache is not None:
        cache.ensure_compatible(backbone.fingerprint(), inputs.shape[-2:])
        hit = [i for i, k in enumerate(keys) if k in cache]
        live = [i for i in live if keys[i] not in cache]
        if hit:
            cached = cache.lookup([keys[i] for i in hit], inputs.device)
            raw = [inputs.new_empty((len(inputs), ) + t.shape[1:])
                   for t in cached]
            for r, t in zip(raw, cached):
                r[hit] = t
    if live:
        live_keys = [keys[i] for i in live]
        if share:
            feats = _encode_distinct(backbone.encode, inputs[live], live_keys)
        else:
            feats = tuple(backbone.encode(inputs[live]))
        if not raw:
            return feats
        for r, t in zip(raw, feats):
            r[live] = t
    return tuple(raw)
