"""Synthetic refer batches: images, sentences and target masks, seeded.

What a model's ``loss``/``predict`` takes after the data preprocessor:
normalised inputs ``B x 3 x S x S`` and one data sample per sentence, whose
metainfo carries the sentence (``text``) and the image identity (``img_id``:
sentences of one image share it, so shared image encoding and the feature
cache see one image).
"""
from typing import List, Optional, Sequence, Tuple, Type

import torch

__all__ = ['box_masks', 'data_samples', 'make_batch', 'sentence']


def sentence(index: int, words: int) -> str:
    """A sentence of ``words`` words, different for neighbouring
    ``index``: ``'the word{index % 7} word{(index + 1) % 7} ...'``."""
    return ' '.join(['the'] + [f'word{(index + j) % 7}'
                               for j in range(words - 1)])


def box_masks(n: int, size: int) -> torch.Tensor:
    """``n x 1 x size x size`` uint8 targets: a fixed box (rows
    ``size/4 .. size/2``, columns from ``size/8`` on) set to 1."""
    gt = torch.zeros(n, 1, size, size, dtype=torch.uint8)
    gt[:, :, size // 4:size // 2, size // 8:] = 1
    return gt


def data_samples(size: int, img_ids: Sequence[int], texts: Sequence[str],
                 masks: torch.Tensor, *, sample_type: Optional[Type] = None,
                 device: Optional[torch.device] = None) -> list:
    """One data sample per ``(img_id, text, mask)``: metainfo ``img_id``,
    ``img_path`` (``image_{img_id}.jpg``), ``text`` and every shape key
    ``size x size``, and ``gt_sem_seg`` (``mask``, ``1 x S x S``).

    ``sample_type`` defaults to mmengine's ``BaseDataElement`` (no mmseg
    needed); pass ``mmseg.structures.SegDataSample`` for mmseg's models.
    """
    from mmengine.structures import BaseDataElement, PixelData
    sample_type = sample_type or BaseDataElement
    if not len(img_ids) == len(texts) == len(masks):
        raise ValueError(f'{len(img_ids)} image ids, {len(texts)} texts and '
                         f'{len(masks)} masks: one of each per sample')
    shape = (size, size)
    out = []
    for img_id, text, mask in zip(img_ids, texts, masks):
        ds = sample_type(metainfo=dict(
            img_id=img_id, img_path=f'image_{img_id}.jpg', text=text,
            ori_shape=shape, img_shape=shape, pad_shape=shape,
            batch_input_shape=shape))
        ds.gt_sem_seg = PixelData(
            data=mask if device is None else mask.to(device))
        out.append(ds)
    return out


def make_batch(n_images: int, n_sentences: int, size: int, words: int,
               device: torch.device, seed: int = 0
               ) -> Tuple[torch.Tensor, List]:
    """``n_sentences`` samples over ``n_images`` images (sentence i shows
    image ``i * n_images // n_sentences``): normalised inputs
    ``B x 3 x S x S`` (N(0, 1)), data samples with :func:`sentence` texts of
    ``words`` words and random {0, 1} target masks (int64)."""
    gen = torch.Generator().manual_seed(seed)
    images = torch.randn(n_images, 3, size, size, generator=gen)
    which = [i * n_images // n_sentences for i in range(n_sentences)]
    masks = torch.stack([(torch.rand(1, size, size, generator=gen) > 0.5
                          ).long() for _ in which])
    samples = data_samples(size, which,
                           [sentence(i, words) for i in range(len(which))],
                           masks, device=device)
    return images[which].to(device), samples
