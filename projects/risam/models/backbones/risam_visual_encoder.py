"""Any image backbone followed by visual adapter necks (paper §4.5.3, §4.6)."""
from typing import Optional, Sequence, Tuple

from mmengine.model import BaseModule
from torch import Tensor, nn

from ...registry import MODELS


def _as_tuple(feats: Tensor | Sequence[Tensor]) -> Tuple[Tensor, ...]:
    return (feats, ) if isinstance(feats, Tensor) else tuple(feats)


@MODELS.register_module()
class RISAMVisualEncoder(BaseModule):
    """``backbone`` then ``necks`` in order, as RISAM's visual branch.

    Lets an ablation swap what produces ``F_v`` without touching the
    segmentor::

        B x 3 x S x S -> backbone -> (maps...) -> neck_1 -> ... -> (F_v,)

    Used for Tab. 6 row #11 (``SAMBackbone`` raw last block ->
    ``SimpleFeaturePyramidNeck``) and Tab. 7 Swin-B (mmpretrain
    ``SwinTransformer`` -> ``FeatureResampleAdapter`` ->
    ``risam.FeatureEnhancement``). Each stage's output is turned into a tuple
    before the next one.

    Args:
        backbone: image backbone config (any registry scope, e.g.
            ``'mmpretrain.SwinTransformer'``).
        necks: visual neck configs applied in order.
        frozen_backbone: freeze ``backbone`` (no gradients, eval mode), the
            paper's PEFT setting. ``SAMBackbone`` freezes itself already.
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
        self.frozen_backbone = frozen_backbone
        if frozen_backbone:
            self.backbone.requires_grad_(False)
            self.backbone.eval()

    def train(self, mode: bool = True) -> 'RISAMVisualEncoder':
        """Keep a frozen backbone in eval mode whatever ``mode`` is."""
        super().train(mode)
        if self.frozen_backbone:
            self.backbone.eval()
        return self

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """``B x 3 x S x S`` -> tuple of maps (``(F_v,)`` normally)."""
        feats = _as_tuple(self.backbone(x))
        for neck in self.necks:
            feats = _as_tuple(neck(feats))
        return feats


__all__ = ['RISAMVisualEncoder']
