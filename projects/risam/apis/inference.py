"""Load a RISAM checkpoint and segment one image for several sentences.

The image is preprocessed and encoded once; only the text side and the fusion
and decoder run per sentence (``RISAM.extract_visual`` is shared).
"""
import copy
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.structures import SegDataSample

from ..registry import MODELS
from ..utils.checkpoint import load_strict
from ..utils.encoder_files import check_checkpoint_covers, use_checkpoint_for_missing

# Steps of a test pipeline that need a dataset annotation, not just an image.
_ANNOTATION_STEPS = {'risam.LoadReferAnnotations', 'LoadAnnotations'}


def init_refer_model(config: Union[str, Path, Config],
                     checkpoint: str = None,
                     device: str = 'cpu') -> torch.nn.Module:
    """Build the config's model in eval mode, with the checkpoint loaded
    strictly (:func:`projects.risam.utils.checkpoint.load_strict`).

    An encoder weight file the config names must exist
    (:class:`~projects.risam.utils.encoder_files.EncoderFileError`, naming
    the file and its config key), unless the checkpoint holds every weight
    of that encoder (a full checkpoint).

    The config's test pipeline (without annotation loading) is kept as
    ``model.cfg`` for :func:`inference_refer`.
    """
    cfg = copy.deepcopy(config) if isinstance(config, Config) else \
        Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    stand_ins = use_checkpoint_for_missing(cfg.model, checkpoint)
    model = MODELS.build(cfg.model)
    if checkpoint is not None:
        check_checkpoint_covers(model, checkpoint, stand_ins)
        load_strict(model, checkpoint)
    model.cfg = cfg
    return model.to(device).eval()


def _test_pipeline(cfg: Config) -> Compose:
    steps = [copy.deepcopy(s) for s in cfg.test_dataloader.dataset.pipeline
             if s['type'] not in _ANNOTATION_STEPS]
    return Compose(steps)


def image_pipeline(cfg: Config) -> Compose:
    """The config's test pipeline for a decoded BGR array: without
    annotation loading and without ``LoadImageFromFile``."""
    return Compose([t for t in _test_pipeline(cfg).transforms
                    if type(t).__name__ != 'LoadImageFromFile'])


def pack_image(pipeline: Compose, img: np.ndarray) -> dict:
    """Run :func:`image_pipeline` on a BGR ``H x W x 3`` uint8 array:
    ``dict(inputs=3 x h x w, data_samples=SegDataSample)`` (what
    :func:`prepare_image` feeds the data preprocessor)."""
    results = dict(img=img, img_path=None, ori_shape=img.shape[:2],
                   img_shape=img.shape[:2])
    return pipeline(dict(results, text=''))


def preprocess_packed(model: torch.nn.Module,
                      packed: dict) -> Tuple[torch.Tensor, dict]:
    """The model's data preprocessor on one packed image:
    ``(inputs 1 x 3 x S x S, metainfo)``, as :func:`prepare_image`."""
    data = model.data_preprocessor(
        dict(inputs=[packed['inputs']], data_samples=[packed['data_samples']]),
        training=False)
    return data['inputs'], dict(data['data_samples'][0].metainfo)


def prepare_image(model: torch.nn.Module,
                  img: Union[str, np.ndarray]) -> Tuple[torch.Tensor, dict]:
    """Run the config's test pipeline and the data preprocessor on ``img``.

    Args:
        model: a RISAM model from :func:`init_refer_model`.
        img: image path, or a BGR ``H x W x 3`` uint8 array.

    Returns:
        ``(inputs 1 x 3 x S x S, metainfo)``: the normalised, padded model
        input and its metainfo (``ori_shape``, ``img_shape``, ...).
    """
    if isinstance(img, np.ndarray):
        packed = pack_image(image_pipeline(model.cfg), img)
    else:
        packed = _test_pipeline(model.cfg)(dict(img_path=str(img), text=''))
    return preprocess_packed(model, packed)


def binarize(sample: SegDataSample,
             threshold: Optional[float] = None) -> SegDataSample:
    """Set ``nothing_matches`` in the metainfo of a predicted sample: True
    when its binary mask ``pred_sem_seg`` has no pixel, i.e. nothing in
    the image matches the sentence at the threshold in use.

    With ``threshold`` given, ``pred_sem_seg`` is first recomputed from the
    sample's ``seg_logits`` as ``sigmoid(logits) > threshold`` (as
    ``RISAM.postprocess_result`` does with the model's threshold)."""
    if threshold is not None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f'threshold must be in [0, 1], got {threshold}')
        logits = sample.seg_logits.data
        sample.pred_sem_seg.data = (logits.float().sigmoid() >
                                    threshold).to(torch.uint8)
    sample.set_metainfo(
        dict(nothing_matches=not bool(sample.pred_sem_seg.data.any())))
    return sample


@torch.no_grad()
def segment_visual(model: torch.nn.Module, visual: Sequence[torch.Tensor],
                   metainfo: dict,
                   texts: Sequence[str],
                   threshold: Optional[float] = None) -> List[SegDataSample]:
    """Segment an encoded image (``model.extract_visual`` of one image,
    each ``1 x C x h x w``) for every sentence in ``texts``.

    ``threshold`` (default: ``model.threshold``) binarizes the masks; each
    sample's metainfo says ``nothing_matches`` (:func:`binarize`)."""
    if not texts:
        raise ValueError('need at least one sentence')
    samples = [SegDataSample(metainfo=dict(metainfo, text=text))
               for text in texts]
    visual = tuple(v.expand(len(texts), *v.shape[1:]) for v in visual)
    logits = model.decode(visual, model.extract_text(list(texts)))
    return [binarize(s, threshold)
            for s in model.postprocess_result(logits, samples)]


@torch.no_grad()
def inference_refer(model: torch.nn.Module, img: Union[str, np.ndarray],
                    texts: Sequence[str]) -> List[SegDataSample]:
    """Segment ``img`` once for every sentence in ``texts``.

    Args:
        model: a RISAM model from :func:`init_refer_model`.
        img: image path, or a BGR ``H x W x 3`` uint8 array.
        texts: the sentences (non-empty).

    Returns:
        One :class:`SegDataSample` per sentence, with ``pred_sem_seg``
        (binary) and ``seg_logits`` at the image's original size, and
        ``nothing_matches`` in its metainfo (True for an empty mask).
    """
    if not texts:
        raise ValueError('inference_refer needs at least one sentence')
    inputs, metainfo = prepare_image(model, img)
    visual = model.extract_visual(inputs)  # once for all sentences
    return segment_visual(model, visual, metainfo, texts)
