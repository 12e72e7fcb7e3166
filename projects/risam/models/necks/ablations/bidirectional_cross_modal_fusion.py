"""BRINet-style serial bidirectional fusion (paper Tab. 3, row #7 "BCM")."""
import math
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ....registry import MODELS
from ..block_stack_fusion import FixedBlockStackFusion, ProjectedBlock
from .spatial_dynamic_fusion import words_softmax


class BidirectionalCrossModalBlock(ProjectedBlock):
    """One serial BCM step, in BRINet's order: vision-guided linguistic
    attention first, then language-guided visual attention.

    ::

        Z_v = F_v W_v,  Z_l = F_l W_l
        A_w = softmax_words(Z_v Z_l^T / sqrt(C))             B x L_v x L
        G   = A_w Z_l              (step 1: per-region language context)
        A_p = softmax_pixels((G W_q)(Z_v W_k)^T / sqrt(C))   B x L_v x L_v
        F_lav = LN([A_p Z_v W_u, G] W_o + Z_v)
                                   (step 2: uses step 1 to update pixels)
        F_val = LN(Z_l)            (the words are not updated by the image)

    Step 1 gives every image region its own weights over the words; step 2
    lets every region, queried by its language context ``G``, gather the
    visual features of the regions that context points at, and the result
    is joined with ``G`` (concatenation, then ``W_o``) on a residual of
    ``Z_v``. As in BRINet, the word features feed both steps unchanged, so
    ``F_val`` is the projected words (the decoder gets them as from SDF).

    Unlike the MA block (one shared ``A`` used in two *parallel* branches,
    Eq. 3-5), the two attentions are separate and step 2 consumes the output
    of step 1 (serial). Step 2 is an ``L_v x L_v`` attention; it runs through
    :func:`torch.nn.functional.scaled_dot_product_attention`, whose default
    scale is ``1 / sqrt(C)``.

    Args:
        visual_channels: ``C_v`` of ``F_v``.
        text_channels: ``C'`` of ``F_l``.
        channels: ``C`` of the outputs.
    """

    def __init__(self, *, visual_channels: int, text_channels: int,
                 channels: int) -> None:
        super().__init__(visual_channels=visual_channels,
                         text_channels=text_channels, channels=channels)
        self.query_proj = nn.Linear(channels, channels, bias=False)
        self.key_proj = nn.Linear(channels, channels, bias=False)
        self.value_proj = nn.Linear(channels, channels, bias=False)
        self.out_proj = nn.Linear(2 * channels, channels, bias=False)

    def forward(self, visual: Tensor, text: Tensor,
                mask: Tensor) -> Tuple[Tensor, Tensor]:
        """``B x L_v x C_v``, ``B x L x C'``, ``B x L`` -> ``B x L_v x C``,
        ``B x L x C``."""
        z_v = self.visual_proj(visual)
        z_l = self.text_proj(text)
        attn_w = words_softmax(
            z_v @ z_l.transpose(1, 2) / math.sqrt(self.channels), mask)
        context = attn_w @ z_l
        gathered = F.scaled_dot_product_attention(
            self.query_proj(context), self.key_proj(z_v),
            self.value_proj(z_v))
        joined = self.out_proj(torch.cat([gathered, context], dim=-1))
        return self.visual_norm(joined + z_v), self.text_norm(z_l)


@MODELS.register_module()
class BidirectionalCrossModalFusion(FixedBlockStackFusion):
    """Serial bidirectional cross-modal module (Tab. 3, row #7, BRINet).

    §3.3/§4.5.1: BRINet "adopts a serial bidirectional design to utilize both
    visual and linguistic guidance". Each block is a
    :class:`BidirectionalCrossModalBlock` in BRINet's order (vision-guided
    linguistic attention, then language-guided visual attention, the order
    of BRINet's public code, read for this; the method section was not at
    hand); the last block's
    ``F_val`` goes to the (unchanged) Mutual-Aware Mask Decoder, so that only
    the fusion differs from RISAM.
    """

    block_type = BidirectionalCrossModalBlock


__all__ = ['BidirectionalCrossModalBlock', 'BidirectionalCrossModalFusion']
