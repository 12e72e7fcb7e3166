"""BRINet-style serial bidirectional fusion (paper Tab. 3, row #7 "BCM")."""
import math
from typing import Tuple

from torch import Tensor, nn

from ....registry import MODELS
from ..block_stack_fusion import FixedBlockStackFusion, ProjectedBlock
from .spatial_dynamic_fusion import words_softmax


class BidirectionalCrossModalBlock(ProjectedBlock):
    """One serial BCM step: vision -> language first, then language -> vision.

    ::

        Z_v = F_v W_v,  Z_l = F_l W_l
        A_l = softmax_pixels(Z_l Z_v^T / sqrt(C))         B x L x L_v
        F_val = LN(A_l Z_v + Z_l)                         (step 1)
        A_v = softmax_words(Z_v (F_val W_k)^T / sqrt(C))  B x L_v x L
        F_lav = LN(A_v F_val + Z_v)                       (step 2, uses step 1)

    Unlike the MA block (one shared ``A`` used in two *parallel* branches,
    Eq. 3-5) the two attentions are separate and step 2 consumes the output
    of step 1 (serial).
    """

    def __init__(self, *, visual_channels: int, text_channels: int,
                 channels: int) -> None:
        super().__init__(visual_channels=visual_channels,
                         text_channels=text_channels, channels=channels)
        self.key_proj = nn.Linear(channels, channels, bias=False)

    def forward(self, visual: Tensor, text: Tensor,
                mask: Tensor) -> Tuple[Tensor, Tensor]:
        """``B x L_v x C_v``, ``B x L x C'``, ``B x L`` -> ``B x L_v x C``,
        ``B x L x C``."""
        scale = math.sqrt(self.channels)
        z_v = self.visual_proj(visual)
        z_l = self.text_proj(text)
        attn_l = (z_l @ z_v.transpose(1, 2) / scale).softmax(dim=-1)
        val = self.text_norm(attn_l @ z_v + z_l)
        attn_v = words_softmax(z_v @ self.key_proj(val).transpose(1, 2) / scale,
                               mask)
        lav = self.visual_norm(attn_v @ val + z_v)
        return lav, val


@MODELS.register_module()
class BidirectionalCrossModalFusion(FixedBlockStackFusion):
    """Serial bidirectional cross-modal module (Tab. 3, row #7, BRINet).

    §3.3/§4.5.1: BRINet "adopts a serial bidirectional design to utilize both
    visual and linguistic guidance". Each block is a
    :class:`BidirectionalCrossModalBlock`; the vision-aware words of the last
    block are returned as ``F_val`` so that the (unchanged) Mutual-Aware Mask
    Decoder gets the same inputs as with MA; only the fusion differs.
    """

    block_type = BidirectionalCrossModalBlock


__all__ = ['BidirectionalCrossModalBlock', 'BidirectionalCrossModalFusion']
