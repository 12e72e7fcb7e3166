"""VLT-style Spatial Dynamic Fusion (paper Tab. 3, row #6 "SDF")."""
import math
from typing import Tuple

from torch import Tensor

from ....registry import MODELS
from ..block_stack_fusion import FixedBlockStackFusion, ProjectedBlock


def words_softmax(scores: Tensor, mask: Tensor) -> Tensor:
    """Softmax over the real words of ``B x L_v x L`` scores.

    Padding words (``mask`` ``B x L`` False) get weight 0; an all-padding
    sentence gives an all-zero row (never NaN).
    """
    allowed = mask.bool()[:, None, :].expand_as(scores)
    logits = scores.masked_fill(~allowed, float('-inf'))
    attn = logits.softmax(dim=-1).nan_to_num(0.0)
    return attn * allowed.to(scores.dtype)


class SpatialDynamicBlock(ProjectedBlock):
    """One SDF step: every pixel builds its own sentence vector.

    ::

        Z_v = F_v W_v,  Z_l = F_l W_l
        A   = softmax_words(Z_v Z_l^T / sqrt(C))      B x L_v x L
        F_lav = LN(A Z_l + Z_v)                       (vision-guided only)
        F_val = LN(Z_l)                               (words see no pixel)
    """

    def forward(self, visual: Tensor, text: Tensor,
                mask: Tensor) -> Tuple[Tensor, Tensor]:
        """``B x L_v x C_v``, ``B x L x C'``, ``B x L`` -> ``B x L_v x C``,
        ``B x L x C``."""
        z_v = self.visual_proj(visual)
        z_l = self.text_proj(text)
        attn = words_softmax(z_v @ z_l.transpose(1, 2) /
                             math.sqrt(self.channels), mask)
        return self.visual_norm(attn @ z_l + z_v), self.text_norm(z_l)


@MODELS.register_module()
class SpatialDynamicFusion(FixedBlockStackFusion):
    """Vision-Guided Attention only (paper Tab. 3, row #6, VLT's SDF).

    §4.5.1: VLT's Spatial Dynamic Fusion "produce[s] different linguistic
    feature vectors" per pixel, "which is equivalent to using only
    Visual-Guided Attention". So each block is the MA block's vision-guided
    branch (Eq. 3, 5 first line) without the Eq. 4 relevance mask, and the
    words are only projected, never updated by the image: ``F_val`` does not
    depend on the visual input at all.
    """

    block_type = SpatialDynamicBlock


__all__ = ['SpatialDynamicBlock', 'SpatialDynamicFusion', 'words_softmax']
