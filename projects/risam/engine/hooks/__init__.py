from .refer_visualization_hook import ReferVisualizationHook
from .slim_checkpoint_hook import SlimCheckpointHook

__all__ = ['ReferVisualizationHook', 'SlimCheckpointHook']
