"""Deployment: ONNX export of RISAM (image encoder + prompt decoder)."""
from .onnx_export import (
                          ONNXRISAM,
                          ImageEncoderGraph,
                          PromptDecoderGraph,
                          check_onnx,
                          export_onnx,
                          passes,
)

__all__ = [
                          'ONNXRISAM',
                          'ImageEncoderGraph',
                          'PromptDecoderGraph',
                          'check_onnx',
                          'export_onnx',
                          'passes',
]
