"""The seam between RISAM's frozen visual encoder and its trained parts."""
import hashlib
import weakref
from abc import ABCMeta, abstractmethod
from itertools import chain
from typing import Sequence, Tuple

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

__all__ = ['BaseVisualBackbone', 'state_fingerprint']


def _state_signature(module: nn.Module) -> tuple:
    """What identifies the current weights of ``module`` without reading
    them: per parameter and buffer its name, shape, dtype, device, storage
    address and version counter (bumped by every in-place write, such as
    ``load_state_dict``'s copies; ``.to()`` and ``.half()`` make new
    storages). Costs microseconds per tensor, whatever its size."""
    return tuple((name, tuple(t.shape), t.dtype, t.device, t.data_ptr(),
                  t._version)
                 for name, t in chain(module.named_parameters(),
                                      module.named_buffers()))


def _digest(module: nn.Module) -> str:
    """sha256 over the names, shapes, dtypes and values of ``module``'s
    state dict (each tensor made fp32 on the host: a full read of the
    weights).

    fp32 and bf16 tensors add no dtype, so the caches written before dtypes
    counted stay valid: those are the two dtypes an encoder is configured
    with (``encoder_dtype``), and a bf16 encoder's fingerprint already says
    so. Any other dtype (fp16, fp64, ...) changes the digest."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        if tensor.dtype not in (torch.float32, torch.bfloat16):
            digest.update(str(tensor.dtype).encode())
        digest.update(tensor.detach().float().cpu().contiguous().numpy()
                      .tobytes())
    return digest.hexdigest()


#: per module: (signature of its weights, their digest)
_DIGESTS: 'weakref.WeakKeyDictionary[nn.Module, Tuple[tuple, str]]' = \
    weakref.WeakKeyDictionary()


def state_fingerprint(module: nn.Module) -> str:
    """sha256 over the names, shapes and values of ``module``'s state dict.

    Hashing reads every weight (0.36 GB for SAM ViT-B, 2.5 GB for ViT-H in
    fp32), so the digest is computed once and kept with the module; it is
    computed again only when the weights' signature changes (another
    ``load_state_dict``, a dtype or device change, any in-place write).
    A frozen encoder thus costs one hash per process, not one per step.
    """
    signature = _state_signature(module)
    known = _DIGESTS.get(module)
    if known is not None and known[0] == signature:
        return known[1]
    digest = _digest(module)
    _DIGESTS[module] = (signature, digest)
    return digest


class BaseVisualBackbone(BaseModule, metaclass=ABCMeta):
    """Every RISAM visual backbone: a frozen encoder, then a trained part.

    ::

        images B x 3 x S x S --encode--> raw features (tuple of maps)
                             --enhance--> (F_v, ...)

    * :meth:`encode` runs the frozen encoder (SAM's ViT, Swin-B, CLIP's
      ViT-B/16...). When :attr:`encoder_frozen` is true its output depends on
      the image only: RISAM then encodes each distinct image of a batch once
      and expands the result to its sentences (shared image encoding), or
      reads it from a frozen-feature cache on disk
      (``tools/analysis_tools/cache_features.py``), keyed by
      :func:`projects.risam.image_encoding.image_key`.
    * :meth:`enhance` runs the trained part (Feature Enhancement, ViTDet's
      simple feature pyramid, adapters) per sample.
    * :meth:`fingerprint` names what :meth:`encode` computes, so that a cache
      written by another encoder is refused.

    ``forward(x) == enhance(encode(x))``. The segmentor talks to a backbone
    through these members only.
    """

    @property
    @abstractmethod
    def encoder_frozen(self) -> bool:
        """True when :meth:`encode` has no trainable parameters (and runs
        in eval mode), so its output may be shared and cached."""

    @abstractmethod
    def encode(self, images: Tensor) -> Tuple[Tensor, ...]:
        """Frozen part: ``B x 3 x S x S`` -> raw features, each
        ``B x C_e x h x w`` (no gradient when :attr:`encoder_frozen`)."""

    @abstractmethod
    def enhance(self, feats: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        """Trained part: raw features -> ``(F_v, ...)``."""

    @abstractmethod
    def fingerprint(self) -> dict:
        """JSON-able description of the frozen encoder: its configuration
        and a digest of its weights (see :func:`state_fingerprint`)."""

    def forward(self, images: Tensor) -> Tuple[Tensor, ...]:
        """``B x 3 x S x S`` -> ``enhance(encode(images))``."""
        return self.enhance(self.encode(images))
