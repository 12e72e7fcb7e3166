"""Feature Enhancement (FE) neck of RISAM (paper §3.2, Eq. 1-2)."""
from typing import List, Sequence

import torch
from torch import Tensor, nn

from ...registry import MODELS


class _TokenMLP(nn.Module):
    """Two-layer point-wise MLP applied to a ``B x C_in x H x W`` map.

    Args:
        in_channels: input channels ``C_in``.
        out_channels: output channels ``C``.
    """

    def __init__(self, *, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_channels, out_channels)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(out_channels, out_channels)

    def forward(self, x: Tensor) -> Tensor:
        """``B x C_in x H x W`` -> ``B x C x H x W``."""
        x = x.permute(0, 2, 3, 1)
        x = self.fc2(self.act(self.fc1(x)))
        return x.permute(0, 3, 1, 2)


class _CBA(nn.Sequential):
    """CBA(.) of Eq. 1-2: conv 3x3 -> BatchNorm -> GELU."""

    def __init__(self, *, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels), nn.GELU())


@MODELS.register_module()
class FeatureEnhancement(nn.Module):
    """Fuse shallow -> deep encoder features in ``n - 1`` stages (Eq. 1-2).

    With three levels ``(F_v1, F_v2, F_v3)`` (the 2nd-4th global-attention
    blocks of SAM's ViT) this is exactly the paper::

        F_hat = CBA([MLP(F_v1), MLP(F_v2)])        (Eq. 1)
        F_v   = CBA([MLP(F_hat), MLP(F_v3)])       (Eq. 2)

    where ``[., .]`` is channel concatenation and every MLP is a point-wise
    Linear-GELU-Linear (the paper does not give the MLP depth). Each level has
    its own MLP; the early-enhanced feature gets its own MLP in every later
    stage. More levels simply add stages.

    Registered as ``risam.FeatureEnhancement`` (so it cannot clash with other
    OpenMMLab names) and normally built inside :class:`SAMBackbone`.

    Args:
        in_channels: channels of each input level (an int is shared).
        out_channels: ``C`` of the enhanced feature ``F_v``.
        num_levels: number of input levels (>= 2), used when ``in_channels``
            is an int.
    """

    def __init__(self,
                 *,
                 in_channels: int | Sequence[int],
                 out_channels: int = 256,
                 num_levels: int = 3) -> None:
        super().__init__()
        if isinstance(in_channels, int):
            in_channels = [in_channels] * num_levels
        in_channels = list(in_channels)
        if len(in_channels) < 2:
            raise ValueError('FeatureEnhancement needs at least two levels')
        self.num_levels = len(in_channels)
        self.out_channels = out_channels
        self.level_mlps = nn.ModuleList(
            _TokenMLP(in_channels=c, out_channels=out_channels)
            for c in in_channels)
        # stage k >= 1 re-projects the previous stage's output (MLP(F_hat)).
        self.fused_mlps = nn.ModuleList(
            _TokenMLP(in_channels=out_channels, out_channels=out_channels)
            for _ in range(self.num_levels - 2))
        self.cbas = nn.ModuleList(
            _CBA(in_channels=2 * out_channels, out_channels=out_channels)
            for _ in range(self.num_levels - 1))

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """Enhance a shallow-to-deep list of ``B x C_in x H x W`` maps.

        Returns:
            ``F_v``: ``B x C x H x W``.
        """
        if len(feats) != self.num_levels:
            raise ValueError(f'expected {self.num_levels} levels, '
                             f'got {len(feats)}')
        fused = self.cbas[0](torch.cat(
            [self.level_mlps[0](feats[0]), self.level_mlps[1](feats[1])], 1))
        for k in range(2, self.num_levels):
            fused = self.cbas[k - 1](torch.cat(
                [self.fused_mlps[k - 2](fused),
                 self.level_mlps[k](feats[k])], 1))
        return fused


__all__: List[str] = ['FeatureEnhancement']
