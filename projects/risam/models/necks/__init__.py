from .bidirectional_cross_modal_fusion import BidirectionalCrossModalFusion
from .concat_conv_fusion import ConcatConvFusion
from .linear_projection_neck import LinearProjectionNeck
from .mutual_aware_attention import MutualAwareAttention
from .mutual_aware_fusion import MutualAwareFusion
from .spatial_dynamic_fusion import SpatialDynamicFusion
from .transformer_encoder_fusion import TransformerEncoderFusion

__all__ = [
    'BidirectionalCrossModalFusion', 'ConcatConvFusion', 'LinearProjectionNeck',
    'MutualAwareAttention', 'MutualAwareFusion', 'SpatialDynamicFusion',
    'TransformerEncoderFusion'
]
