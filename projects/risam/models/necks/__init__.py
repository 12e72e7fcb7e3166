"""Necks: visual enhancement/adapters (F_v) and the vision-language fusion."""
from .bidirectional_cross_modal_fusion import BidirectionalCrossModalFusion
from .concat_conv_fusion import ConcatConvFusion
from .feature_enhancement import FeatureEnhancement
from .feature_resample_adapter import FeatureResampleAdapter
from .linear_projection_neck import LinearProjectionNeck
from .linguistic_positional_encoding import LinguisticPositionalEncoding
from .mutual_aware_attention import MutualAwareAttention
from .mutual_aware_fusion import MutualAwareFusion
from .simple_feature_pyramid import SimpleFeaturePyramidNeck
from .spatial_dynamic_fusion import SpatialDynamicFusion
from .transformer_encoder_fusion import TransformerEncoderFusion

__all__ = [
    'BidirectionalCrossModalFusion', 'ConcatConvFusion', 'FeatureEnhancement',
    'FeatureResampleAdapter', 'LinearProjectionNeck',
    'LinguisticPositionalEncoding', 'MutualAwareAttention',
    'MutualAwareFusion', 'SimpleFeaturePyramidNeck', 'SpatialDynamicFusion',
    'TransformerEncoderFusion'
]
