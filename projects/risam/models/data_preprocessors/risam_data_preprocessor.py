"""SegDataPreProcessor that also batches differently-sized test images and
marks the samples that show one image."""
from typing import Any, Dict, List, Optional, Sequence

import torch
from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.utils import stack_batch

from ...image_encoding.image_identity import SAME_IMAGE_KEY, image_key
from ...registry import MODELS


def same_image_as(inputs: Sequence[torch.Tensor],
                  metas: Sequence[dict]) -> List[Optional[int]]:
    """For each sample, the batch position of the first sample that shows
    the same image: equal :func:`image_key` and an equal input tensor (same
    augmentation). ``None`` for a sample without an image key."""
    keys = [image_key(m) for m in metas]
    first: List[Optional[int]] = []
    for i, key in enumerate(keys):
        if key is None:
            first.append(None)
            continue
        first.append(next(
            (j for j in range(i) if keys[j] == key
             and inputs[j].shape == inputs[i].shape
             and torch.equal(inputs[j], inputs[i])), i))
    return first


@MODELS.register_module()
class RISAMDataPreProcessor(SegDataPreProcessor):
    """mmseg's ``SegDataPreProcessor`` plus test-time padding per image and
    the image identity of each sample.

    * In test mode mmseg asserts that every image of a batch has the same
      size, which fails for keep-ratio resized referring images with a test
      batch size > 1. When ``test_cfg=dict(size=(S, S))`` is set, each image
      is first padded bottom/right to ``S x S`` with the raw value that
      normalises to ``pad_val``, so the result is identical to mmseg's own
      padding; ``img_shape`` keeps the un-padded size for cropping.
    * Every data sample gets the metainfo ``same_image_as``: the batch
      position of the first sample with the same image key and an equal raw
      input (see :func:`same_image_as`). The shared image encoding groups
      samples by it, so the model itself never compares images: that
      comparison (``torch.equal``) returns a Python bool and would make a
      GPU training step wait for the device. It is done here, on the raw
      inputs as the data loader gives them (host tensors, before they are
      moved to the device), which is the one place a step may read data on
      the host. Samples without ``img_id``/``img_path`` get ``None``.
    * Nothing in a training step waits for a copy from the host: the batch
      is copied with ``non_blocking`` (default True; from the pinned memory
      of a ``pin_memory=True`` dataloader this overlaps the device's queued
      work), and BGR -> RGB is a ``flip`` on the device where mmseg indexes
      with a Python list (an index tensor made on the host and copied).

    Args:
        non_blocking: copy the batch to the device without blocking.
        **kwargs: ``SegDataPreProcessor``'s arguments.
    """

    def __init__(self, *args, non_blocking: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._non_blocking = non_blocking

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        inputs = data['inputs']
        samples = data.get('data_samples')
        if samples is not None and isinstance(inputs, (list, tuple)):
            for ds, j in zip(samples, same_image_as(
                    inputs, [ds.metainfo for ds in samples])):
                ds.set_metainfo({SAME_IMAGE_KEY: j})
        size = (self.test_cfg or {}).get('size') if not training else None
        if size is not None and isinstance(inputs, (list, tuple)) and len(
                {tuple(x.shape[1:]) for x in inputs}) > 1:
            data = dict(data, inputs=[self._pad_raw(x, size) for x in inputs])
        return self._batch(self.cast_data(data), training)

    def _batch(self, data: dict, training: bool) -> Dict[str, Any]:
        """mmseg's steps after the copy to the device: BGR -> RGB,
        normalise, then pad and stack (training) or stack (test)."""
        samples = data.get('data_samples')
        inputs = []
        for x in data['inputs']:
            if self.channel_conversion and x.size(0) == 3:
                x = x.flip(0)
            x = x.float()
            if self._enable_normalize:
                x = (x - self.mean) / self.std
            inputs.append(x)
        if training:
            if samples is None:
                raise ValueError('the data preprocessor needs data_samples '
                                 'in training')
            batch, samples = stack_batch(
                inputs=inputs, data_samples=samples, size=self.size,
                size_divisor=self.size_divisor, pad_val=self.pad_val,
                seg_pad_val=self.seg_pad_val)
            if self.batch_augments is not None:
                batch, samples = self.batch_augments(batch, samples)
            return dict(inputs=batch, data_samples=samples)
        if any(x.shape[1:] != inputs[0].shape[1:] for x in inputs):
            raise ValueError('the images of a test batch differ in size: '
                             'set the data preprocessor\'s test_cfg=dict('
                             'size=(S, S))')
        if not self.test_cfg:
            return dict(inputs=torch.stack(inputs), data_samples=samples)
        batch, padded = stack_batch(
            inputs=inputs, size=self.test_cfg.get('size'),
            size_divisor=self.test_cfg.get('size_divisor'),
            pad_val=self.pad_val, seg_pad_val=self.seg_pad_val)
        for ds, pad_info in zip(samples, padded):
            ds.set_metainfo({**pad_info})
        return dict(inputs=batch, data_samples=samples)

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
