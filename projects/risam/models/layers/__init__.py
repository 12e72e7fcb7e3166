"""Building blocks shared by RISAM's models."""
from .positional_encoding import sincos_pos_embed_1d, sincos_pos_embed_2d
from .sam_sdpa_attention import SAMSDPAttention, swap_sam_attention

__all__ = [
    'SAMSDPAttention', 'sincos_pos_embed_1d', 'sincos_pos_embed_2d',
    'swap_sam_attention'
]
