"""RISAM segmentor: SAM encoder + CLIP text + MA fusion + MA decoder."""
from typing import List, Tuple

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.utils import SampleList
from torch import Tensor

from ...registry import MODELS
from .risam_core import RISAMCore


def resize_to_original(maps: Tensor, meta: dict, sample: int = 0) -> Tensor:
    """Maps on the model's input grid -> the original image.

    ``maps`` (``1 x C x h x w``, any resolution of the padded input) are
    resized bilinearly to the padded input size, the pad is cropped
    (``img_shape``) and the rest resized bilinearly to ``ori_shape``:
    ``C x H x W`` (float). Used for the mask logits
    (:meth:`RISAM.postprocess_result`) and the attention maps
    (:mod:`projects.risam.visualization.attention_maps`).

    Args:
        maps: ``1 x C x h x w``.
        meta: the sample's metainfo; the padded size is its
            ``batch_input_shape``, else ``pad_shape``, else ``img_shape``.
        sample: the sample's index, for the error message.
    """
    pad = next((meta[k] for k in ('batch_input_shape', 'pad_shape',
                                  'img_shape') if k in meta), None)
    if pad is None:
        raise KeyError(f'sample {sample}: no batch_input_shape, '
                       'pad_shape or img_shape in its metainfo')
    pad_h, pad_w = pad[:2]
    img_h, img_w = meta.get('img_shape', (pad_h, pad_w))[:2]
    out = F.interpolate(maps.float(), size=(pad_h, pad_w), mode='bilinear',
                        align_corners=False)[..., :img_h, :img_w]
    ori = meta.get('ori_shape', (img_h, img_w))[:2]
    return F.interpolate(out, size=ori, mode='bilinear',
                         align_corners=False)[0]


@MODELS.register_module()
class RISAM(RISAMCore, BaseSegmentor):
    """Referring image segmentation with SAM (paper Fig. 3).

    ::

        inputs B x 3 x S x S --backbone--> F_v  B x C x S/16 x S/16
        texts  [B sentences] --text_encoder--> F_l B x L x C', mask B x L
        (F_v, F_l) --neck (MA fusion)--> F_lav, F_val
        --decode_head--> logits B x 1 x S/4 x S/4

    The three stages are separate methods (:meth:`extract_visual`,
    :meth:`extract_text`, :meth:`decode`) so callers can run the image
    encoder once per image and expand it per sentence, or feed cached
    backbone features. Sentences come from each data sample's metainfo
    ``text``. The stages, the loss and ``forward`` are
    :class:`~projects.risam.models.segmentors.risam_core.RISAMCore`'s (no
    mmseg import); this class adds mmseg's ``BaseSegmentor`` API.

    The visual backbone is a
    :class:`~projects.risam.models.BaseVisualBackbone`: its frozen
    ``encode`` and trained ``enhance`` are the seam that the shared image
    encoding and the frozen-feature cache work on
    (:func:`projects.risam.image_encoding.encode_images`).

    Shared image encoding (``share_image_encoding=True``): the frozen
    encoder never sees the text, so within a batch the samples of one image
    (same :func:`~projects.risam.image_encoding.image_key`, equal input
    tensors) go through ``backbone.encode`` once; the raw features are
    index-expanded to the sentences and the trainable ``backbone.enhance``
    (FE, with BatchNorm) then runs per sentence as before, so outputs,
    losses and gradients are those of the per-sentence path. Put the
    sentences of one image next to each other with
    :class:`~projects.risam.datasets.ImageGroupedSampler`. Which samples
    show one image is marked by the data preprocessor (metainfo
    ``same_image_as``, compared on the host before the step), so a training
    step on a GPU never waits for the device (no ``item``, ``tolist``,
    ``torch.equal`` or data-dependent ``if`` on a device tensor). Any other
    backbone (an mmseg one in a mix-in config) runs per sample.

    Feature cache (``feature_cache=DIR``): samples whose image is in the
    cache (``tools/analysis_tools/cache_features.py``) skip the encoder and
    read its raw features from disk; others are encoded live. The cache is
    checked against ``backbone.fingerprint()`` on first use and refuses a
    different encoder.

    Args:
        backbone: visual backbone config (``risam.SAMBackbone``).
        text_encoder: ``risam.CLIPTokenEncoder`` config.
        neck: ``risam.MutualAwareFusion`` config.
        decode_head: ``risam.MutualAwareMaskDecoder`` config.
        threshold: probability threshold of the binary prediction (§4.2).
        data_preprocessor: ``risam.RISAMDataPreProcessor`` (or mmseg's
            ``SegDataPreProcessor``).
        share_image_encoding: encode each distinct image of a batch once.
        feature_cache: directory of a frozen-feature cache, or None.
    """

    def extract_feat(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        """Visual features only (mmseg API)."""
        return self.extract_visual(inputs)

    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: List[dict]) -> Tensor:
        """Logits at the padded input size, ``B x 1 x S x S``."""
        texts = [str(m.get('text', '')) for m in batch_img_metas]
        logits = self.decode(self.extract_visual(inputs, batch_img_metas),
                             self.extract_text(texts))
        return F.interpolate(logits, size=inputs.shape[-2:],
                             mode='bilinear', align_corners=False)

    def predict(self, inputs: Tensor,
                data_samples: SampleList) -> SampleList:
        """Binary masks at the original image sizes."""
        return self.postprocess_result(self._forward(inputs, data_samples),
                                       data_samples)

    def postprocess_result(self, seg_logits: Tensor,
                           data_samples: SampleList) -> SampleList:
        """Per sample: resize the logits to the padded input, crop the pad
        (``img_shape``), resize bilinearly to ``ori_shape``; store them as
        ``seg_logits`` (1 x H x W, pre-sigmoid) and
        ``sigmoid(logits) > threshold`` as ``pred_sem_seg`` (1 x H x W)."""
        for i, ds in enumerate(data_samples):
            logit = resize_to_original(seg_logits[i:i + 1],
                                       ds.metainfo, sample=i)
            pred = (logit.sigmoid() > self.threshold).to(torch.uint8)
            ds.set_data(dict(seg_logits=PixelData(data=logit),
                             pred_sem_seg=PixelData(data=pred)))
        return data_samples


__all__ = ['RISAM', 'resize_to_original']
