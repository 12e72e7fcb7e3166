from .mutual_aware_mask_decoder import MutualAwareMaskDecoder

__all__ = ['MutualAwareMaskDecoder']
