"""Necks: the paper's visual enhancement (FE, Eq. 1-2) and vision-language
fusion (MutualAwareFusion of MutualAwareAttention blocks, Eq. 3-5, with the
linguistic positional encoding of Fig. 3), on the shared block-stack base.

The ablation-only necks are in :mod:`.ablations`; they are re-exported here,
and their old module paths (``projects.risam.models.necks.<module>``) still
import, as aliases of ``projects.risam.models.necks.ablations.<module>``.
"""
import importlib
import sys

from . import ablations
from .ablations import (
    BidirectionalCrossModalFusion,
    ConcatConvFusion,
    FeatureResampleAdapter,
    LinearProjectionNeck,
    SimpleFeaturePyramidNeck,
    SpatialDynamicFusion,
    TransformerEncoderFusion,
)
from .feature_enhancement import FeatureEnhancement
from .linguistic_positional_encoding import LinguisticPositionalEncoding
from .mutual_aware_attention import MutualAwareAttention
from .mutual_aware_fusion import MutualAwareFusion

for _name in ablations.MODULES:
    sys.modules[f'{__name__}.{_name}'] = importlib.import_module(
        f'.ablations.{_name}', __name__)

__all__ = [
    'BidirectionalCrossModalFusion', 'ConcatConvFusion', 'FeatureEnhancement',
    'FeatureResampleAdapter', 'LinearProjectionNeck',
    'LinguisticPositionalEncoding', 'MutualAwareAttention',
    'MutualAwareFusion', 'SimpleFeaturePyramidNeck', 'SpatialDynamicFusion',
    'TransformerEncoderFusion'
]
