"""RISAM model components; importing registers them in mmseg's MODELS."""
from .backbones import FeatureEnhancement, SAMBackbone
from .data_preprocessors import RISAMDataPreProcessor
from .decode_heads import MutualAwareMaskDecoder
from .losses import RISAMFocalDiceLoss
from .necks import MutualAwareAttention, MutualAwareFusion
from .segmentors import RISAM
from .text_encoders import CLIPTokenEncoder

__all__ = [
    'CLIPTokenEncoder', 'FeatureEnhancement', 'MutualAwareAttention',
    'MutualAwareFusion', 'MutualAwareMaskDecoder', 'RISAM',
    'RISAMDataPreProcessor', 'RISAMFocalDiceLoss', 'SAMBackbone'
]
