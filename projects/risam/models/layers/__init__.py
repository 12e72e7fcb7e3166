"""Building blocks shared by RISAM's models."""
from .positional_encoding import PositionTables, sincos_pos_embed_1d, sincos_pos_embed_2d
from .sam_sdpa_attention import SAMSDPAttention, swap_sam_attention
from .sdpa_multihead_attention import SDPAMultiheadAttention

__all__ = [
    'PositionTables', 'SAMSDPAttention', 'SDPAMultiheadAttention', 'sincos_pos_embed_1d',
    'sincos_pos_embed_2d', 'swap_sam_attention'
]
