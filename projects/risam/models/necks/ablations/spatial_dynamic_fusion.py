"""VLT-style Spatial Dynamic Fusion (paper Tab. 3, row #6 "SDF")."""
import math
from functools import partial
from typing import Optional, Tuple

from torch import Tensor

from ....registry import MODELS
from ..block_stack_fusion import BlockStackFusion, ProjectedBlock
from ..mutual_aware_attention import allowed_pairs


def words_softmax(scores: Tensor, mask: Tensor) -> Tensor:
    """Softmax over the allowed words of ``B x L_v x L`` scores.

    ``mask`` is ``B x L`` (True for real words) or ``B x L_v x L`` (True for
    the allowed pairs). Other words get weight 0; a row with no allowed word
    gives an all-zero row (never NaN).
    """
    allowed = mask.bool()
    if allowed.dim() == 2:
        allowed = allowed[:, None, :]
    allowed = allowed.expand_as(scores)
    logits = scores.masked_fill(~allowed, float('-inf'))
    attn = logits.softmax(dim=-1).nan_to_num(0.0)
    return attn * allowed.to(scores.dtype)


class SpatialDynamicBlock(ProjectedBlock):
    """One SDF step: every pixel builds its own sentence vector.

    ::

        Z_v = F_v W_v,  Z_l = F_l W_l
        A   = softmax_words(Z_v Z_l^T / sqrt(C) + M)  B x L_v x L
        F_lav = LN(A Z_l + Z_v)                       (vision-guided only)
        F_val = LN(Z_l)                               (words see no pixel)

    ``M`` masks the padding words; with ``use_attn_mask`` it is also Eq. 4's
    relevance mask at ``tau`` (:func:`allowed_pairs`, as in the MA block).
    VLT has no such mask and the paper does not say whether row #6 kept it,
    so it is off by default.

    Args:
        visual_channels: ``C_v`` of ``F_v``.
        text_channels: ``C'`` of ``F_l``.
        channels: ``C`` of the outputs.
        tau: relevance threshold of Eq. 4 (used with ``use_attn_mask``).
        use_attn_mask: apply Eq. 4's mask.
    """

    def __init__(self, *, visual_channels: int, text_channels: int,
                 channels: int, tau: float = 0.35,
                 use_attn_mask: bool = False) -> None:
        super().__init__(visual_channels=visual_channels,
                         text_channels=text_channels, channels=channels)
        self.tau = tau
        self.use_attn_mask = use_attn_mask

    def forward(self, visual: Tensor, text: Tensor,
                mask: Tensor) -> Tuple[Tensor, Tensor]:
        """``B x L_v x C_v``, ``B x L x C'``, ``B x L`` -> ``B x L_v x C``,
        ``B x L x C``."""
        z_v = self.visual_proj(visual)
        z_l = self.text_proj(text)
        scores = z_v @ z_l.transpose(1, 2) / math.sqrt(self.channels)
        allowed = allowed_pairs(scores, mask.bool(),
                                self.tau if self.use_attn_mask else None)
        attn = words_softmax(scores, allowed)
        return self.visual_norm(attn @ z_l + z_v), self.text_norm(z_l)


@MODELS.register_module()
class SpatialDynamicFusion(BlockStackFusion):
    """Vision-Guided Attention only (paper Tab. 3, row #6, VLT's SDF).

    §4.5.1: VLT's Spatial Dynamic Fusion "produce[s] different linguistic
    feature vectors" per pixel, "which is equivalent to using only
    Visual-Guided Attention". So each block is the MA block's vision-guided
    branch (Eq. 3, 5 first line), and the words are only projected, never
    updated by the image: ``F_val`` does not depend on the visual input at
    all. Eq. 4's relevance mask is a switch (``use_attn_mask``), off by
    default: VLT has no such mask and the paper does not say (the paper
    configs set it explicitly).

    Args:
        in_channels: ``C_v`` of the visual map(s) from the backbone.
        text_channels: ``C'`` of the word features.
        channels: ``C`` of the fused features.
        num_blocks: number of stacked blocks.
        tau: relevance threshold of Eq. 4.
        use_attn_mask: apply Eq. 4's mask (padding is always masked).
        in_index: which backbone output to fuse when given a tuple.
        text_pos_embed: Fig. 3's linguistic positional encoding (see
            :class:`BlockStackFusion`).
    """

    #: the block class (built with this neck's ``tau`` and ``use_attn_mask``)
    block_type = SpatialDynamicBlock

    def __init__(self,
                 *,
                 in_channels: int,
                 text_channels: int,
                 channels: int = 256,
                 num_blocks: int = 2,
                 tau: float = 0.35,
                 use_attn_mask: bool = False,
                 in_index: int = -1,
                 text_pos_embed: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            block_factory=partial(SpatialDynamicBlock, tau=tau,
                                  use_attn_mask=use_attn_mask),
            in_channels=in_channels, text_channels=text_channels,
            channels=channels, num_blocks=num_blocks, in_index=in_index,
            text_pos_embed=text_pos_embed, init_cfg=init_cfg)


__all__ = ['SpatialDynamicBlock', 'SpatialDynamicFusion', 'words_softmax']
