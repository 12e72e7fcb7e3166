from .feature_enhancement import FeatureEnhancement
from .sam_backbone import SAM_ARCHS, SAMBackbone, sincos_pos_embed_2d

__all__ = ['FeatureEnhancement', 'SAMBackbone', 'SAM_ARCHS',
           'sincos_pos_embed_2d']
