"""The RISAM segmentor's model core: its three stages and its loss, with
mmengine and torch only.

:class:`~projects.risam.models.RISAM` is this core plus mmseg's
``BaseSegmentor`` API (prediction at the original image size). The core is
what a training step runs, so ``tools/analysis_tools/gpu_check.py`` measures
it on a machine without mmsegmentation, mmcv or OpenCV.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModel
from torch import Tensor

from ...image_encoding import (
    CACHED_TAPS_KEY,
    SAME_IMAGE_KEY,
    FeatureCache,
    encode_images,
    image_key,
)
from ...registry import MODELS
from ..backbones import BaseVisualBackbone

TextFeats = Tuple[Tensor, Tensor]
#: mmseg's ``SegDataSample`` list, or any mmengine data elements carrying
#: ``metainfo['text']`` (and ``gt_sem_seg`` to compute a loss)
SampleList = Sequence


class RISAMCore(BaseModel):
    """Backbone, text encoder, fusion neck and decoder (paper Fig. 3) and
    the focal + dice loss (Eq. 12); see :class:`~projects.risam.models.RISAM`
    for the stages, the shared image encoding and the feature cache.

    ``forward(inputs, data_samples, mode)`` dispatches as mmseg's
    segmentors do: ``'loss'`` and ``'tensor'`` here, ``'predict'`` in
    :class:`~projects.risam.models.RISAM`.
    """

    def __init__(self,
                 *,
                 backbone: dict,
                 text_encoder: dict,
                 neck: dict,
                 decode_head: dict,
                 threshold: float = 0.35,
                 share_image_encoding: bool = True,
                 feature_cache: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.text_encoder = MODELS.build(text_encoder)
        self.neck = MODELS.build(neck)
        self.decode_head = MODELS.build(decode_head)
        self.threshold = threshold
        self.share_image_encoding = share_image_encoding
        self.feature_cache = (FeatureCache(feature_cache)
                              if feature_cache is not None else None)

    # -- the three separable stages -------------------------------------
    def extract_visual(self,
                       inputs: Tensor,
                       metas: Optional[Sequence[dict]] = None
                       ) -> Tuple[Tensor, ...]:
        """``B x 3 x S x S`` -> backbone outputs (tuple of maps).

        ``metas`` (one metainfo dict per sample) enable shared encoding and
        the feature cache; without them every sample is encoded.
        """
        bb = self.backbone
        if not isinstance(bb, BaseVisualBackbone):
            return tuple(bb(inputs))
        keys = [image_key(m) for m in metas] if metas is not None else None
        same = ([m.get(SAME_IMAGE_KEY) for m in metas]
                if metas is not None else None)
        cached = [m.get(CACHED_TAPS_KEY) for m in metas] \
            if metas is not None else None
        if cached is not None and all(c is None for c in cached):
            cached = None
        if cached is not None and self.feature_cache is None:
            raise ValueError(
                'samples carry cached features (risam.LoadCachedFeatures in '
                'the pipeline) but model.feature_cache is not set: set it to '
                'the same folder, so that the cache is checked against the '
                'encoder')
        if cached is not None:
            mine = osp.abspath(self.feature_cache.cache_dir)
            other = next((m['feature_cache'] for m in metas
                          if m.get('feature_cache', mine) != mine), None)
            if other is not None:
                raise ValueError(
                    f'samples carry cached features from {other}, '
                    f'model.feature_cache is {mine}: set both to one folder')
        raw = encode_images(bb, inputs, keys,
                            share=self.share_image_encoding,
                            cache=self.feature_cache, same_image_as=same,
                            cached=cached)
        return bb.enhance(raw)

    def extract_text(self, texts: Sequence[str]) -> TextFeats:
        """Sentences -> ``(tokens B x L x C', mask B x L)``."""
        return self.text_encoder(list(texts))

    def decode(self, visual: Sequence[Tensor], text: TextFeats) -> Tensor:
        """Fuse and decode -> ``B x 1 x h x w`` mask logits."""
        tokens, mask = text
        lav, val = self.neck(visual, tokens, mask)
        return self.decode_head(lav, val, mask)

    # -- training ---------------------------------------------------------
    @staticmethod
    def _texts(data_samples: SampleList) -> List[str]:
        return [str(ds.metainfo.get('text', '')) for ds in data_samples]

    @staticmethod
    def _metas(data_samples: Optional[SampleList]) -> Optional[List[dict]]:
        return [ds.metainfo for ds in data_samples] if data_samples else None

    def _forward(self,
                 inputs: Tensor,
                 data_samples: Optional[SampleList] = None) -> Tensor:
        """Raw ``B x 1 x S/4 x S/4`` logits (tensor mode)."""
        texts = self._texts(data_samples) if data_samples else [''] * len(
            inputs)
        return self.decode(
            self.extract_visual(inputs, self._metas(data_samples)),
            self.extract_text(texts))

    def loss(self, inputs: Tensor,
             data_samples: SampleList) -> Dict[str, Tensor]:
        """Eq. 12 against ``gt_sem_seg`` (255 = padding, ignored)."""
        logits = self._forward(inputs, data_samples)
        gt = torch.stack([ds.gt_sem_seg.data[0] for ds in data_samples])
        return self.decode_head.loss_by_feat(logits, gt.long())

    def predict(self, inputs: Tensor, data_samples: SampleList):
        raise NotImplementedError(
            'prediction at the original image size is risam.RISAM\'s '
            '(mmseg\'s BaseSegmentor API); the core gives logits: '
            'mode="tensor"')

    def forward(self,
                inputs: Tensor,
                data_samples: Optional[SampleList] = None,
                mode: str = 'tensor'):
        """mmengine's entry: ``'loss'`` -> dict of losses, ``'predict'`` ->
        data samples with predictions, ``'tensor'`` -> raw logits."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}". '
                           'Only supports loss, predict and tensor mode')


__all__ = ['RISAMCore']
