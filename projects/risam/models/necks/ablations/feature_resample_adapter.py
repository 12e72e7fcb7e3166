"""Bring a multi-stride pyramid onto one grid (Swin-B in paper Tab. 7)."""
from typing import Optional, Sequence, Tuple

import torch.nn.functional as F
from mmengine.model import BaseModule
from segment_anything.modeling.common import LayerNorm2d
from torch import Tensor, nn

from ....registry import MODELS


@MODELS.register_module()
class FeatureResampleAdapter(BaseModule):
    """Resample every level to one level's grid and project to ``C``.

    Feature Enhancement (Eq. 1-2) concatenates maps of one size, as SAM's
    plain ViT gives. A hierarchical backbone (Swin-B, Tab. 7) gives strides
    8/16/32; this adapter maps level ``k`` (``B x C_k x H_k x W_k``) to
    ``B x C x H_r x W_r`` with ``H_r x W_r`` the size of level
    ``ref_index`` (bilinear up, area down), then a 1x1 conv + ``LayerNorm2d``
    (each pixel normalised over its channels, as in SAM and ViTDet). The output tuple feeds
    ``risam.FeatureEnhancement`` (shallow to deep, as in the paper).

    Args:
        in_channels: channels of each input level.
        out_channels: ``C`` of every output level.
        ref_index: the level whose grid is kept (Swin stages 1-3: 1 = stride
            16, the grid of SAM's features).
    """

    def __init__(self,
                 *,
                 in_channels: Sequence[int],
                 out_channels: int = 256,
                 ref_index: int = 1,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.ref_index = ref_index
        self.projs = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c, out_channels, 1),
                          LayerNorm2d(out_channels))
            for c in in_channels)

    def forward(self, feats: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        """Levels ``B x C_k x H_k x W_k`` -> levels ``B x C x H_r x W_r``."""
        if len(feats) != len(self.projs):
            raise ValueError(f'expected {len(self.projs)} levels, '
                             f'got {len(feats)}')
        size = feats[self.ref_index].shape[-2:]
        outs = []
        for proj, feat in zip(self.projs, feats):
            if feat.shape[-2] > size[0]:
                feat = F.interpolate(feat, size=size, mode='area')
            elif feat.shape[-2:] != size:
                feat = F.interpolate(feat, size=size, mode='bilinear',
                                     align_corners=False)
            outs.append(proj(feat))
        return tuple(outs)


__all__ = ['FeatureResampleAdapter']
