"""Deployment: ONNX export of RISAM (image encoder + prompt decoder)."""
from .onnx_export import (ImageEncoderGraph, ONNXRISAM, PromptDecoderGraph,
                          check_onnx, export_onnx, passes)

__all__ = ['ImageEncoderGraph', 'PromptDecoderGraph', 'ONNXRISAM',
           'export_onnx', 'check_onnx', 'passes']
