"""RISAM model components; importing registers them in the ``risam`` scope."""
from .backbones import BaseVisualBackbone, RISAMVisualEncoder, SAMBackbone
from .data_preprocessors import RISAMDataPreProcessor
from .decode_heads import MutualAwareMaskDecoder
from .losses import RISAMFocalDiceLoss
from .necks import FeatureEnhancement, MutualAwareAttention, MutualAwareFusion
from .segmentors import RISAM
from .text_encoders import CLIPTokenEncoder

__all__ = [
    'RISAM',
    'BaseVisualBackbone',
    'CLIPTokenEncoder',
    'FeatureEnhancement',
    'MutualAwareAttention',
    'MutualAwareFusion',
    'MutualAwareMaskDecoder',
    'RISAMDataPreProcessor',
    'RISAMFocalDiceLoss',
    'RISAMVisualEncoder',
    'SAMBackbone'
]
