"""Stack of Mutual-Aware Attention blocks (paper §3.3)."""
from functools import partial
from typing import Optional

from ...registry import MODELS
from .block_stack_fusion import BlockStackFusion
from .mutual_aware_attention import MutualAwareAttention


@MODELS.register_module()
class MutualAwareFusion(BlockStackFusion):
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
        normalize_language_attn: normalise ``A^T`` over the pixels in Eq. 5's
            language branch (see :class:`MutualAwareAttention`); off by
            default (Eq. 5 as printed).
        in_index: which backbone output to fuse when given a tuple.
        text_pos_embed: Fig. 3's linguistic positional encoding (see
            :class:`BlockStackFusion`); off by default, on in the paper
            configs (the MA row and the fusion rows of Tab. 2-3).
    """

    def __init__(self,
                 *,
                 in_channels: int,
                 text_channels: int,
                 channels: int = 256,
                 num_blocks: int = 2,
                 tau: float = 0.35,
                 use_attn_mask: bool = True,
                 normalize_language_attn: bool = False,
                 in_index: int = -1,
                 text_pos_embed: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            block_factory=partial(
                MutualAwareAttention, tau=tau, use_attn_mask=use_attn_mask,
                normalize_language_attn=normalize_language_attn),
            in_channels=in_channels, text_channels=text_channels,
            channels=channels, num_blocks=num_blocks, in_index=in_index,
            text_pos_embed=text_pos_embed,
            init_cfg=init_cfg)
