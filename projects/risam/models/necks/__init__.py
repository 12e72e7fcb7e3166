from .mutual_aware_attention import MutualAwareAttention
from .mutual_aware_fusion import MutualAwareFusion

__all__ = ['MutualAwareAttention', 'MutualAwareFusion']
