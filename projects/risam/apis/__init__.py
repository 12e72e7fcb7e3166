from .demo_examples import DemoExample, demo_examples
from .inference import (
                        binarize,
                        inference_refer,
                        init_refer_model,
                        load_strict,
                        prepare_image,
                        segment_visual,
)
from .risam_inferencer import RISAMInferencer

__all__ = [
                        'DemoExample',
                        'RISAMInferencer',
                        'binarize',
                        'demo_examples',
                        'inference_refer',
                        'init_refer_model',
                        'load_strict',
                        'prepare_image',
                        'segment_visual'
]
