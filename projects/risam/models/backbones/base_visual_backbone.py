"""The seam between RISAM's frozen visual encoder and its trained parts."""
import hashlib
from abc import ABCMeta, abstractmethod
from typing import Sequence, Tuple

from mmengine.model import BaseModule
from torch import Tensor, nn

__all__ = ['BaseVisualBackbone', 'state_fingerprint']


def state_fingerprint(module: nn.Module) -> str:
    """sha256 over the names, shapes and values of ``module``'s state dict."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().float().cpu().contiguous().numpy()
                      .tobytes())
    return digest.hexdigest()


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
