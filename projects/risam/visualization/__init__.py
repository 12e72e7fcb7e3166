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

__all__ = ['grid', 'overlay', 'text_band']
__all__ += [
    'SamplePrediction', 'model_columns', 'model_grid', 'pick_by_iou', 'predict', 'predict_picked',
    'sample_iou', 'sample_ious', 'sample_tiles'
]
