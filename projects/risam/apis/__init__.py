from .inference import inference_refer, init_refer_model, load_strict

__all__ = ['inference_refer', 'init_refer_model', 'load_strict']
