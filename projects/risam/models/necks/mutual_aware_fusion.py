"""Stack of Mutual-Aware Attention blocks (paper §3.3)."""
from typing import Optional, Sequence, Tuple

from mmengine.model import BaseModule
from torch import Tensor, nn

from mmseg.registry import MODELS
from .mutual_aware_attention import MutualAwareAttention


@MODELS.register_module()
class MutualAwareFusion(BaseModule):
    """``num_blocks`` sequential :class:`MutualAwareAttention` blocks.

    Block ``k + 1`` takes ``(F_lav, F_val)`` of block ``k`` as its
    ``(F_v, F_l)``; the paper uses two blocks (Tab. 4).

    Args:
        in_channels: channels of the visual map(s) from the backbone.
        text_channels: ``C'`` of the text tokens (512 for CLIP ViT-B-16).
        channels: ``C`` of the fused features.
        num_blocks: number of MA blocks.
        tau: relevance threshold of Eq. 4.
        use_attn_mask: apply the Eq. 4 mask (padding is always masked).
        in_index: which backbone output to fuse when given a tuple.
    """

    def __init__(self,
                 *,
                 in_channels: int,
                 text_channels: int,
                 channels: int = 256,
                 num_blocks: int = 2,
                 tau: float = 0.35,
                 use_attn_mask: bool = True,
                 in_index: int = -1,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_index = in_index
        self.channels = channels
        self.blocks = nn.ModuleList(
            MutualAwareAttention(
                visual_channels=in_channels if i == 0 else channels,
                text_channels=text_channels if i == 0 else channels,
                channels=channels, tau=tau, use_attn_mask=use_attn_mask)
            for i in range(num_blocks))

    def forward(self, visual: Tensor | Sequence[Tensor], text: Tensor,
                mask: Tensor) -> Tuple[Tensor, Tensor]:
        """Fuse a visual map with word features.

        Args:
            visual: ``B x C_v x H x W`` (or a tuple of them; ``in_index``).
            text: ``B x L x C'`` word features.
            mask: ``B x L`` bool, True for real words.

        Returns:
            ``F_lav`` as ``B x C x H x W`` and ``F_val`` as ``B x L x C``.
        """
        if not isinstance(visual, Tensor):
            visual = visual[self.in_index]
        b, _, h, w = visual.shape
        lav, val = visual.flatten(2).transpose(1, 2), text
        for block in self.blocks:
            lav, val = block(lav, val, mask)
        return lav.transpose(1, 2).reshape(b, self.channels, h, w), val
