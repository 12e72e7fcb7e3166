"""ViT-DET simple feature pyramid instead of FE (paper Tab. 6, row #11)."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from segment_anything.modeling.common import LayerNorm2d
from torch import Tensor, nn

from ....registry import MODELS


def _rescale(channels: int, scale: float) -> nn.Module:
    """ViT-DET's resampling of the last map by ``scale`` (4, 2, 1, 0.5)."""
    if scale == 4.0:
        return nn.Sequential(
            nn.ConvTranspose2d(channels, channels // 2, 2, stride=2),
            LayerNorm2d(channels // 2), nn.GELU(),
            nn.ConvTranspose2d(channels // 2, channels // 4, 2, stride=2))
    if scale == 2.0:
        return nn.ConvTranspose2d(channels, channels // 2, 2, stride=2)
    if scale == 1.0:
        return nn.Identity()
    if scale == 0.5:
        return nn.MaxPool2d(2, stride=2)
    raise ValueError(f'unsupported scale {scale}')


def _scaled_channels(channels: int, scale: float) -> int:
    return {4.0: channels // 4, 2.0: channels // 2}.get(scale, channels)


@MODELS.register_module()
class SimpleFeaturePyramidNeck(BaseModule):
    """Multi-scale maps from the *last* ViT layer only (Tab. 6 #11).

    §4.5.3: ViT-DET "uses only the feature map from the last layer of the
    backbone to generate multi-scale features". For input ``F``
    (``B x C_e x H x W``, SAM's last global block, raw) every scale
    ``s in scales`` gets ViT-DET's resampling (deconvs for 4x/2x, identity,
    max-pool for 0.5x) then conv1x1 + LN + conv3x3 + LN to ``C``.

    The fusion stage needs one ``H x W`` map (the place of ``F_v``), so with
    ``fuse=True`` the pyramid levels are resized back to ``H x W`` (area
    down / bilinear up), concatenated and reduced by conv3x3-BN-GELU (the
    CBA of Eq. 1-2): the same kind of merge FE uses, but over last-layer
    multi-scale features instead of shallow/middle/deep layers.

    Args:
        in_channels: ``C_e`` of the ViT map.
        out_channels: ``C``.
        scales: ViT-DET's scale factors.
        fuse: return ``(F_v,)`` (True) or the pyramid tuple (False).
    """

    def __init__(self,
                 *,
                 in_channels: int,
                 out_channels: int = 256,
                 scales: Sequence[float] = (4.0, 2.0, 1.0, 0.5),
                 fuse: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.levels = nn.ModuleList()
        for s in scales:
            mid = _scaled_channels(in_channels, float(s))
            self.levels.append(nn.Sequential(
                _rescale(in_channels, float(s)),
                nn.Conv2d(mid, out_channels, 1, bias=False),
                LayerNorm2d(out_channels),
                nn.Conv2d(out_channels, out_channels, 3, padding=1,
                          bias=False), LayerNorm2d(out_channels)))
        self.merge = nn.Sequential(
            nn.Conv2d(len(scales) * out_channels, out_channels, 3, padding=1,
                      bias=False), nn.BatchNorm2d(out_channels),
            nn.GELU()) if fuse else None

    def forward(self, feats: Tensor | Sequence[Tensor]) -> Tuple[Tensor, ...]:
        """Last map ``B x C_e x H x W`` (or a tuple; the last entry is used)
        -> ``(F_v,)`` ``B x C x H x W``, or the pyramid levels."""
        x = feats if isinstance(feats, Tensor) else feats[-1]
        pyramid = [level(x) for level in self.levels]
        if self.merge is None:
            return tuple(pyramid)
        size = x.shape[-2:]
        resized = [
            F.interpolate(p, size=size, mode='area')
            if p.shape[-2] > size[0] else F.interpolate(
                p, size=size, mode='bilinear', align_corners=False)
            for p in pyramid
        ]
        return (self.merge(torch.cat(resized, dim=1)), )


__all__ = ['SimpleFeaturePyramidNeck']
