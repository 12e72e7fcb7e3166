"""The necks of the paper's ablations only: the fusion rows of Tab. 2-3
(ConcatConv, TE, SDF, BCM), ViTDet's simple feature pyramid (Tab. 6 #11),
the Swin-B adapter (Tab. 7) and the plain projections of SAM's baseline
(Tab. 11). Their registry names are ``risam.<Class>``, as every neck's."""
from .bidirectional_cross_modal_fusion import BidirectionalCrossModalFusion
from .concat_conv_fusion import ConcatConvFusion
from .feature_resample_adapter import FeatureResampleAdapter
from .linear_projection_neck import LinearProjectionNeck
from .simple_feature_pyramid import SimpleFeaturePyramidNeck
from .spatial_dynamic_fusion import SpatialDynamicFusion
from .transformer_encoder_fusion import TransformerEncoderFusion

#: the modules of this folder, once ``projects.risam.models.necks.<name>``
MODULES = ('bidirectional_cross_modal_fusion', 'concat_conv_fusion',
           'feature_resample_adapter', 'linear_projection_neck',
           'simple_feature_pyramid', 'spatial_dynamic_fusion',
           'transformer_encoder_fusion')

__all__ = [
    'MODULES',
    'BidirectionalCrossModalFusion',
    'ConcatConvFusion',
    'FeatureResampleAdapter',
    'LinearProjectionNeck',
    'SimpleFeaturePyramidNeck',
    'SpatialDynamicFusion',
    'TransformerEncoderFusion',
]
