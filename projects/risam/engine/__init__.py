from .hooks import ReferVisualizationHook
from .optimizers import FrozenAwareOptimWrapperConstructor

__all__ = ['FrozenAwareOptimWrapperConstructor', 'ReferVisualizationHook']
