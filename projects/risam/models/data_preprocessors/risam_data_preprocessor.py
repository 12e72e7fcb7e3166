"""SegDataPreProcessor that also batches differently-sized test images."""
from typing import Any, Dict

import torch

from mmseg.models.data_preprocessor import SegDataPreProcessor
from ...registry import MODELS


@MODELS.register_module()
class RISAMDataPreProcessor(SegDataPreProcessor):
    """mmseg's ``SegDataPreProcessor`` plus test-time padding per image.

    In test mode mmseg asserts that every image of a batch has the same
    size, which fails for keep-ratio resized referring images with a test
    batch size > 1. When ``test_cfg=dict(size=(S, S))`` is set, each image
    is first padded bottom/right to ``S x S`` with the raw value that
    normalises to ``pad_val``, so the result is identical to mmseg's own
    padding; ``img_shape`` keeps the un-padded size for cropping. Training
    mode is unchanged.
    """

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        size = (self.test_cfg or {}).get('size') if not training else None
        inputs = data['inputs']
        if size is not None and isinstance(inputs, (list, tuple)) and len(
                {tuple(x.shape[1:]) for x in inputs}) > 1:
            data = dict(data, inputs=[self._pad_raw(x, size) for x in inputs])
        return super().forward(data, training)

    def _pad_raw(self, img: torch.Tensor, size) -> torch.Tensor:
        """Pad a raw ``3 x h x w`` image to ``size`` bottom/right."""
        img = img.float()
        h, w = img.shape[-2:]
        out_h, out_w = max(size[0], h), max(size[1], w)
        fill = torch.full((img.shape[0], ), float(self.pad_val))
        if self._enable_normalize:
            fill = fill * self.std.view(-1).cpu() + self.mean.view(-1).cpu()
        if self.channel_conversion and img.shape[0] == 3:
            fill = fill.flip(0)  # raw images are BGR
        out = fill.view(-1, 1, 1).expand(-1, out_h, out_w).clone().to(img)
        out[:, :h, :w] = img
        return out
