from .mutual_aware_mask_decoder import MutualAwareMaskDecoder
from .sam_mask_decoder_head import SAMMaskDecoderHead

__all__ = ['MutualAwareMaskDecoder', 'SAMMaskDecoderHead']
