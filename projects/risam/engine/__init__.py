from .hooks import ReferVisualizationHook

__all__ = ['ReferVisualizationHook']
