from .feature_enhancement import FeatureEnhancement
from .feature_resample_adapter import FeatureResampleAdapter
from .risam_visual_encoder import RISAMVisualEncoder
from .sam_backbone import SAM_ARCHS, SAMBackbone, sincos_pos_embed_2d
from .simple_feature_pyramid import SimpleFeaturePyramidNeck

__all__ = ['FeatureEnhancement', 'FeatureResampleAdapter', 'RISAMVisualEncoder',
           'SimpleFeaturePyramidNeck', 'SAMBackbone', 'SAM_ARCHS',
           'sincos_pos_embed_2d']
