from .attention_drawing import save_attention
from .attention_maps import AttentionMaps, attention_maps, record_attention
from .overlay import grid, overlay, text_band
from .prediction_grid import (
                              SamplePrediction,
                              model_columns,
                              model_grid,
                              predict,
                              predict_picked,
                              sample_ious,
                              sample_tiles,
)
from .sample_picking import pick_by_iou, sample_iou

__all__ = [
    'AttentionMaps', 'SamplePrediction', 'attention_maps', 'grid', 'model_columns', 'model_grid',
    'overlay', 'pick_by_iou', 'predict', 'predict_picked', 'record_attention', 'sample_iou',
    'sample_ious', 'sample_tiles', 'save_attention', 'text_band'
]
