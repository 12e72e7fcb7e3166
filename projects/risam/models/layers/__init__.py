"""Building blocks shared by RISAM's models."""
from .sam_sdpa_attention import SAMSDPAttention, swap_sam_attention

__all__ = ['SAMSDPAttention', 'swap_sam_attention']
