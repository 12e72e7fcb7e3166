"""Mask heads: (F_lav, F_val, word mask) -> mask logits, with the loss."""
from .base_mask_head import BaseMaskHead
from .mutual_aware_mask_decoder import MutualAwareMaskDecoder
from .sam_mask_decoder_head import SAMMaskDecoderHead

__all__ = ['BaseMaskHead', 'MutualAwareMaskDecoder', 'SAMMaskDecoderHead']
