"""Any image backbone followed by visual adapter necks (paper §4.5.3, §4.6)."""
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from ...registry import MODELS
from .base_visual_backbone import BaseVisualBackbone, state_fingerprint


def _as_tuple(feats: Tensor | Sequence[Tensor]) -> Tuple[Tensor, ...]:
    return (feats, ) if isinstance(feats, Tensor) else tuple(feats)


@MODELS.register_module()
class RISAMVisualEncoder(BaseVisualBackbone):
    """``backbone`` then ``necks`` in order, as RISAM's visual branch.

    Lets an ablation swap what produces ``F_v`` without touching the
    segmentor::

        B x 3 x S x S -> backbone -> (maps...)          encode  (frozen)
                      -> neck_1 -> ... -> (F_v,)        enhance (trained)

    Used for Tab. 6 row #11 (``risam.SAMBackbone`` raw taps ->
    ``risam.SimpleFeaturePyramidNeck``) and Tab. 7 Swin-B
    (``mmpretrain.SwinTransformer`` -> ``risam.FeatureResampleAdapter`` ->
    ``risam.FeatureEnhancement``). When ``backbone`` is itself a
    :class:`BaseVisualBackbone`, :meth:`encode` is its ``encode`` and its own
    ``enhance`` runs before the necks; any other backbone (an mmseg or
    mmpretrain one) is the encoder as a whole. Either way the shared image
    encoding and the frozen-feature cache apply whenever the encoder is
    frozen.

    Args:
        backbone: image backbone config (any registry scope, e.g.
            ``'mmpretrain.SwinTransformer'``).
        necks: visual neck configs applied in order (trained).
        frozen_backbone: freeze ``backbone`` (no gradients, eval mode), the
            paper's PEFT setting. A :class:`BaseVisualBackbone` such as
            ``risam.SAMBackbone`` decides that itself.
    """

    def __init__(self,
                 *,
                 backbone: dict,
                 necks: Sequence[dict] = (),
                 frozen_backbone: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.necks = nn.ModuleList(MODELS.build(n) for n in necks)
        self.backbone_cfg = dict(backbone)
        self.frozen_backbone = frozen_backbone
        if frozen_backbone:
            self.backbone.requires_grad_(False)
            self.backbone.eval()

    @property
    def _inner(self) -> Optional[BaseVisualBackbone]:
        bb = self.backbone
        return bb if isinstance(bb, BaseVisualBackbone) else None

    @property
    def encoder_frozen(self) -> bool:
        """Frozen when the wrapped backbone's encoder is."""
        if self._inner is not None:
            return self._inner.encoder_frozen
        return self.frozen_backbone

    def train(self, mode: bool = True) -> 'RISAMVisualEncoder':
        """Keep a frozen backbone in eval mode whatever ``mode`` is."""
        super().train(mode)
        if self.frozen_backbone:
            self.backbone.eval()
        return self

    def encode(self, images: Tensor) -> Tuple[Tensor, ...]:
        """``B x 3 x S x S`` -> the backbone's raw maps."""
        if self._inner is not None:
            return self._inner.encode(images)
        with torch.set_grad_enabled(torch.is_grad_enabled()
                                    and not self.frozen_backbone):
            return _as_tuple(self.backbone(images))

    def enhance(self, feats: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        """Raw maps -> necks in order -> ``(F_v,)`` normally."""
        feats = tuple(feats)
        if self._inner is not None:
            feats = self._inner.enhance(feats)
        for neck in self.necks:
            feats = _as_tuple(neck(feats))
        return feats

    def fingerprint(self) -> dict:
        """The wrapped backbone's fingerprint, or its config and weights."""
        if self._inner is not None:
            return self._inner.fingerprint()
        return dict(backbone=str(self.backbone_cfg),
                    encoder_sha256=state_fingerprint(self.backbone))


__all__ = ['RISAMVisualEncoder']
