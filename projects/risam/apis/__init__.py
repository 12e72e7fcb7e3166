from .inference import (inference_refer, init_refer_model, load_strict,
                        prepare_image, segment_visual)
from .risam_inferencer import RISAMInferencer

__all__ = [
    'inference_refer', 'init_refer_model', 'load_strict', 'prepare_image',
    'segment_visual', 'RISAMInferencer'
]
