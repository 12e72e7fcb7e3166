"""RISAM segmentor: SAM encoder + CLIP text + MA fusion + MA decoder."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from torch import Tensor

from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.utils import OptConfigType, SampleList

TextFeats = Tuple[Tensor, Tensor, Tensor]


@MODELS.register_module()
class RISAM(BaseSegmentor):
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
    ``text``.

    Args:
        backbone: visual backbone config (``SAMBackbone``).
        text_encoder: ``CLIPTokenEncoder`` config.
        neck: ``MutualAwareFusion`` config.
        decode_head: ``MutualAwareMaskDecoder`` config.
        threshold: probability threshold of the binary prediction (§4.2).
        data_preprocessor: usually mmseg's ``SegDataPreProcessor``.
    """

    def __init__(self,
                 *,
                 backbone: dict,
                 text_encoder: dict,
                 neck: dict,
                 decode_head: dict,
                 threshold: float = 0.35,
                 data_preprocessor: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.text_encoder = MODELS.build(text_encoder)
        self.neck = MODELS.build(neck)
        self.decode_head = MODELS.build(decode_head)
        self.threshold = threshold
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        self.align_corners = False

    # -- the three separable stages -------------------------------------
    def extract_visual(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        """``B x 3 x S x S`` -> backbone outputs (tuple of maps)."""
        return tuple(self.backbone(inputs))

    def extract_text(self, texts: Sequence[str]) -> TextFeats:
        """Sentences -> ``(tokens B x L x C', mask B x L, pooled B x D)``."""
        return self.text_encoder(list(texts))

    def decode(self, visual: Sequence[Tensor], text: TextFeats) -> Tensor:
        """Fuse and decode -> ``B x 1 x h x w`` mask logits."""
        tokens, mask, _ = text
        lav, val = self.neck(visual, tokens, mask)
        return self.decode_head(lav, val, mask)

    # -- BaseSegmentor API ----------------------------------------------
    @staticmethod
    def _texts(data_samples: SampleList) -> List[str]:
        return [str(ds.metainfo.get('text', '')) for ds in data_samples]

    def extract_feat(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        """Visual features only (mmseg API)."""
        return self.extract_visual(inputs)

    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: List[dict]) -> Tensor:
        """Logits at the padded input size, ``B x 1 x S x S``."""
        texts = [str(m.get('text', '')) for m in batch_img_metas]
        logits = self.decode(self.extract_visual(inputs),
                             self.extract_text(texts))
        return F.interpolate(logits, size=inputs.shape[-2:],
                             mode='bilinear', align_corners=False)

    def _forward(self,
                 inputs: Tensor,
                 data_samples: Optional[SampleList] = None) -> Tensor:
        """Raw ``B x 1 x S/4 x S/4`` logits (tensor mode)."""
        texts = self._texts(data_samples) if data_samples else [''] * len(
            inputs)
        return self.decode(self.extract_visual(inputs),
                           self.extract_text(texts))

    def loss(self, inputs: Tensor,
             data_samples: SampleList) -> Dict[str, Tensor]:
        """Eq. 12 against ``gt_sem_seg`` (255 = padding, ignored)."""
        logits = self._forward(inputs, data_samples)
        gt = torch.stack([ds.gt_sem_seg.data[0] for ds in data_samples])
        return self.decode_head.loss_by_feat(logits, gt.long())

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
            meta = ds.metainfo
            pad_h, pad_w = meta.get('batch_input_shape',
                                    meta.get('pad_shape',
                                             meta['img_shape']))[:2]
            img_h, img_w = meta.get('img_shape', (pad_h, pad_w))[:2]
            logit = F.interpolate(seg_logits[i:i + 1].float(),
                                  size=(pad_h, pad_w), mode='bilinear',
                                  align_corners=False)[..., :img_h, :img_w]
            ori = meta.get('ori_shape', (img_h, img_w))[:2]
            logit = F.interpolate(logit, size=ori, mode='bilinear',
                                  align_corners=False)[0]
            pred = (logit.sigmoid() > self.threshold).to(torch.uint8)
            ds.set_data(dict(seg_logits=PixelData(data=logit),
                             pred_sem_seg=PixelData(data=pred)))
        return data_samples


__all__ = ['RISAM']
