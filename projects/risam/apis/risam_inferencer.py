"""RISAMInferencer: images with sentences in, masks and pictures out.

It follows the conventions of mmseg's ``MMSegInferencer``: it is built from
a config and a checkpoint, a call takes the inputs and returns a dict with
``predictions`` and ``visualization``, and ``out_dir`` saves the masks
(``out_dir/pred``) and the overlays (``out_dir/vis``). Unlike a semantic
segmenter, every image comes with one or more sentences, so an input is
``dict(img=..., texts=[...])``.

The frozen image encoder runs once per image: :meth:`RISAMInferencer.encode`
keeps the last ``cache_size`` image embeddings keyed by the image content, so
further sentences on an image already seen only run the text tower, the
fusion and the mask decoder (what the web demo shows as "reused").
"""
import hashlib
import os
import os.path as osp
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmseg.structures import SegDataSample
from torch import Tensor

from ..visualization.overlay import overlay
from .inference import init_refer_model, prepare_image, segment_visual

ImageType = Union[str, Path, np.ndarray]


@dataclass
class ImageEmbedding:
    """One encoded image.

    Attributes:
        key: sha1 of the image's shape and pixels (the cache key; empty
            from :meth:`RISAMInferencer.encode_prepared`, never cached).
        visual: ``model.extract_visual`` output, each ``1 x C x h x w``.
        metainfo: the test pipeline's metainfo (``ori_shape``, ...).
        encode_time: seconds the preprocessing and encoder took.
    """
    key: str
    visual: Tuple[Tensor, ...]
    metainfo: dict
    encode_time: float


def read_image(img: ImageType) -> np.ndarray:
    """A path or an array -> BGR ``H x W x 3`` uint8; one-line errors."""
    if isinstance(img, np.ndarray):
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise ValueError(f'expected an H x W x 3 uint8 image, got '
                             f'{img.dtype} {img.shape}')
        return img
    path = str(img)
    if not osp.isfile(path):
        raise FileNotFoundError(f'image not found: {path}')
    array = cv2.imread(path, cv2.IMREAD_COLOR)
    if array is None:
        raise ValueError(f'cannot read image (not an image, or corrupt): '
                         f'{path}')
    return array


def image_digest(img: np.ndarray) -> str:
    """sha1 of an image's shape and pixels: equal images share it."""
    digest = hashlib.sha1(str(img.shape).encode())
    digest.update(np.ascontiguousarray(img).tobytes())
    return digest.hexdigest()


def mask_score(logits: Tensor, mask: Tensor) -> float:
    """The score of a prediction: the mean probability
    ``sigmoid(logit)`` over the pixels of the predicted mask, in [0, 1];
    0.0 for an empty mask.

    Args:
        logits: ``1 x H x W`` (or ``H x W``) mask logits, original size.
        mask: the binary prediction of the same size.
    """
    on = mask.bool().reshape(-1)
    if not on.any():
        return 0.0
    return float(logits.float().sigmoid().reshape(-1)[on].mean())


class RISAMInferencer:
    """Referring segmentation of images for given sentences.

    Args:
        model: config path or :class:`~mmengine.config.Config`.
        weights: checkpoint path, or None for the config's initialisation.
        device: e.g. ``'cpu'`` or ``'cuda:0'``.
        threshold: probability threshold of the masks (default: the
            config's, 0.35 in the paper).
        cache_size: image embeddings kept for reuse.

    Example::

        inferencer = RISAMInferencer('configs/risam/xxx.py', 'epoch_50.pth')
        out = inferencer(dict(img='a.jpg', texts=['the man in red']))
        out['predictions'][0]['sem_seg']  # H x W uint8 mask
    """

    def __init__(self,
                 model: Union[str, Path, Config],
                 weights: Optional[str] = None,
                 device: str = 'cpu',
                 *,
                 threshold: Optional[float] = None,
                 cache_size: int = 4) -> None:
        self.model = init_refer_model(model, weights, device)
        if threshold is not None:
            self.model.threshold = threshold
        self.cache_size = cache_size
        self._cache: 'OrderedDict[str, ImageEmbedding]' = OrderedDict()
        #: encoder passes so far (each distinct image once while cached)
        self.num_encoded = 0

    # -- the two halves: encode an image once, segment it per sentence ---
    @torch.no_grad()
    def encode(self, img: ImageType) -> Tuple[ImageEmbedding, bool]:
        """Encode ``img``, or reuse its cached embedding.

        Returns:
            ``(embedding, reused)``; ``reused`` is True when the embedding
            came from the cache (the encoder did not run).
        """
        array = read_image(img)
        key = image_digest(array)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key], True
        start = time.perf_counter()
        inputs, metainfo = prepare_image(self.model, array)
        visual = self.model.extract_visual(inputs)
        embedding = ImageEmbedding(key=key, visual=visual, metainfo=metainfo,
                                   encode_time=time.perf_counter() - start)
        self.num_encoded += 1
        if self.cache_size > 0:
            self._cache[key] = embedding
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return embedding, False

    @torch.no_grad()
    def encode_prepared(self, inputs: Tensor,
                        metainfos: Sequence[dict]) -> List[ImageEmbedding]:
        """Encode prepared images in one encoder pass (batch inference).

        Args:
            inputs: ``B x 3 x S x S``, the :func:`prepare_image` inputs of
                ``B`` images concatenated.
            metainfos: their metainfos, in the same order.

        Returns:
            One embedding per image (``key`` empty: not cached; each visual
            map ``1 x C x h x w``, a view of the batch's).
        """
        start = time.perf_counter()
        visual = self.model.extract_visual(inputs)
        spent = (time.perf_counter() - start) / max(len(metainfos), 1)
        self.num_encoded += len(metainfos)
        return [ImageEmbedding(key='', visual=tuple(v[i:i + 1] for v in visual),
                               metainfo=meta, encode_time=spent)
                for i, meta in enumerate(metainfos)]

    def clear_cache(self) -> None:
        """Forget every cached image embedding."""
        self._cache.clear()

    def segment(self, embedding: ImageEmbedding, texts: Sequence[str],
                threshold: Optional[float] = None) -> List[SegDataSample]:
        """Masks of an encoded image for every sentence in ``texts``:
        one :class:`SegDataSample` each, with ``pred_sem_seg``,
        ``seg_logits`` (original size), and ``text`` and
        ``nothing_matches`` (True: the mask is empty) in its metainfo.
        ``threshold`` overrides the model's for this call."""
        return segment_visual(self.model, embedding.visual,
                              embedding.metainfo, texts, threshold)

    def predict(self, img: ImageType, texts: Sequence[str],
                threshold: Optional[float] = None) -> List[SegDataSample]:
        """:meth:`encode` then :meth:`segment`."""
        return self.segment(self.encode(img)[0], texts, threshold)

    # -- MMSegInferencer-style call ----------------------------------------
    def __call__(self,
                 inputs: Union[dict, Sequence[dict]],
                 *,
                 return_datasamples: bool = False,
                 return_vis: bool = False,
                 out_dir: str = '',
                 img_out_dir: str = 'vis',
                 pred_out_dir: str = 'pred',
                 overwrite: bool = False) -> dict:
        """Segment every input image for each of its sentences.

        Args:
            inputs: ``dict(img=path_or_BGR_array, texts=[str, ...])`` or a
                list of them.
            return_datasamples: return :class:`SegDataSample` s instead of
                plain dicts.
            return_vis: also return the overlays (BGR arrays).
            out_dir: if given, save ``out_dir/pred_out_dir/<name>_<i>.png``
                (mask, 0/255) and ``out_dir/img_out_dir/<name>_<i>.png``
                (overlay); ``<name>`` is the image's file stem (``img<k>``
                for arrays), ``i`` the sentence index.
            overwrite: replace existing files in ``out_dir`` (otherwise an
                existing file is an error and nothing is written).

        Returns:
            ``dict(predictions=..., visualization=...)``: per input, a list
            with one entry per sentence: ``dict(text, sem_seg (H x W uint8),
            score, nothing_matches)`` (``score``: see :func:`mask_score`;
            ``nothing_matches``: True when ``sem_seg`` has no pixel above
            the threshold, i.e. nothing in the image matches the sentence),
            or a ``SegDataSample`` (``nothing_matches`` in its metainfo);
            ``visualization`` holds the overlays when ``return_vis`` or
            ``out_dir`` is set, else is empty. A single dict input gives the
            entries of that input directly, as ``MMSegInferencer`` does for a
            single image.
        """
        single = isinstance(inputs, dict)
        items = [inputs] if single else list(inputs)
        for k, item in enumerate(items):
            if not isinstance(item, dict) or 'img' not in item or \
                    not item.get('texts'):
                raise ValueError(f'input {k}: expected dict(img=..., '
                                 f'texts=[at least one sentence])')
        names = [self._name(item['img'], k) for k, item in enumerate(items)]
        files = self._out_files(items, names, out_dir, img_out_dir,
                                pred_out_dir, overwrite)
        predictions, visualization = [], []
        for k, item in enumerate(items):
            texts = [str(t) for t in item['texts']]
            img = read_image(item['img'])
            samples = self.predict(img, texts)
            preds, vis = [], []
            for i, (text, sample) in enumerate(zip(texts, samples)):
                mask = sample.pred_sem_seg.data[0]
                preds.append(sample if return_datasamples else dict(
                    text=text, sem_seg=mask.cpu().numpy().astype(np.uint8),
                    score=mask_score(sample.seg_logits.data, mask),
                    nothing_matches=sample.nothing_matches))
                if return_vis or out_dir:
                    vis.append(overlay(img, mask.cpu().numpy(), text))
            predictions.append(preds)
            visualization.append(vis)
            if out_dir:
                self._save(files[k], samples, vis)
        if single:
            predictions, visualization = predictions[0], visualization[0]
        return dict(predictions=predictions,
                    visualization=visualization if
                    (return_vis or out_dir) else [])

    # -- helpers -----------------------------------------------------------
    @staticmethod
    def _name(img: ImageType, index: int) -> str:
        if isinstance(img, np.ndarray):
            return f'img{index}'
        return osp.splitext(osp.basename(str(img)))[0]

    @staticmethod
    def _out_files(items: List[dict], names: List[str], out_dir: str,
                   img_out_dir: str, pred_out_dir: str,
                   overwrite: bool) -> List[List[Tuple[str, str]]]:
        """Per input and sentence ``(mask_path, overlay_path)``; refuses
        existing files (and repeated names) unless ``overwrite``."""
        if not out_dir:
            return []
        files = [[(osp.join(out_dir, pred_out_dir, f'{name}_{i}.png'),
                   osp.join(out_dir, img_out_dir, f'{name}_{i}.png'))
                  for i in range(len(item['texts']))]
                 for item, name in zip(items, names)]
        flat = [p for per in files for pair in per for p in pair]
        if len(set(flat)) != len(flat):
            raise ValueError('two inputs have the same file name; save them '
                             'to different out_dir')
        existing = [p for p in flat if osp.exists(p)]
        if existing and not overwrite:
            raise FileExistsError(f'{existing[0]} exists (and '
                                  f'{len(existing) - 1} more); pass '
                                  f'overwrite=True or another out_dir')
        return files

    @staticmethod
    def _save(files: List[Tuple[str, str]], samples: List[SegDataSample],
              vis: List[np.ndarray]) -> None:
        for (mask_path, vis_path), sample, picture in zip(files, samples, vis):
            os.makedirs(osp.dirname(mask_path), exist_ok=True)
            os.makedirs(osp.dirname(vis_path), exist_ok=True)
            mask = sample.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8)
            cv2.imwrite(mask_path, mask * 255)
            cv2.imwrite(vis_path, picture)


__all__ = [
    'ImageEmbedding',
    'RISAMInferencer',
    'image_digest',
    'mask_score',
    'read_image',
]
