"""Decode a referring sample's target into a binary mask."""
from typing import List, Optional, Sequence, Union

import numpy as np
import pycocotools.mask as mask_utils
from mmcv.transforms import BaseTransform

from ...registry import TRANSFORMS

__all__ = ['LoadReferAnnotations', 'decode_segmentation', 'union_mask']

Segmentation = Union[list, dict]


def decode_segmentation(segm: Segmentation, height: int,
                        width: int) -> np.ndarray:
    """One COCO segmentation -> H x W uint8 {0, 1} mask, via pycocotools.

    Accepts polygons (a list of flat ``[x1, y1, x2, y2, ...]`` parts, merged),
    uncompressed RLE (``counts`` a list, as used for ``iscrowd=1``) and
    compressed RLE (``counts`` a str/bytes).
    """
    if isinstance(segm, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(segm, height, width))
    elif isinstance(segm, dict) and isinstance(segm.get('counts'), list):
        rle = mask_utils.frPyObjects(segm, height, width)
    elif isinstance(segm, dict) and 'counts' in segm:
        rle = segm
    else:
        raise ValueError(f'unknown segmentation format {type(segm).__name__}')
    mask = mask_utils.decode(rle)
    if mask.shape != (height, width):
        raise ValueError(f'segmentation of size {mask.shape} does not match '
                         f'the image size {(height, width)}')
    return mask.astype(np.uint8)


def union_mask(segms: Sequence[Segmentation], height: int,
               width: int) -> np.ndarray:
    """Union of several segmentations; all zeros for none (no target)."""
    mask = np.zeros((height, width), dtype=np.uint8)
    for segm in segms:
        mask |= decode_segmentation(segm, height, width)
    return mask


@TRANSFORMS.register_module()
class LoadReferAnnotations(BaseTransform):
    """Load the target mask and the sentence of a referring sample.

    Required keys: ``segmentations``, ``text``; ``height``/``width`` (or
    ``ori_shape`` from :class:`LoadImageFromFile` when they are None).

    Added keys:

    - ``gt_seg_map`` (np.uint8, H x W, {0, 1}; original image size): union of
      the targets, all zeros when there is none. In image-grouped samples
      (``text`` a list) it is N x H x W, one mask per sentence, and is not
      registered in ``seg_fields`` (it stays at the original size).
    - ``seg_fields``: ``'gt_seg_map'`` appended (single samples), so mmseg's
      ``Resize`` rescales it in training pipelines.
    - ``text`` and ``no_target`` are kept as they are.
    """

    def _size(self, results: dict) -> tuple:
        height, width = results.get('height'), results.get('width')
        shape: Optional[tuple] = results.get('ori_shape')
        if height is None or width is None:
            if shape is None:
                raise ValueError('image size unknown: put '
                                 'LoadImageFromFile before '
                                 'LoadReferAnnotations')
            return tuple(shape[:2])
        if shape is not None and tuple(shape[:2]) != (height, width):
            raise ValueError(f'image is {tuple(shape[:2])} but the '
                             f'annotation file says {(height, width)}')
        return height, width

    def transform(self, results: dict) -> dict:
        height, width = self._size(results)
        if isinstance(results['text'], list):
            masks: List[np.ndarray] = [
                union_mask(s, height, width) for s in results['segmentations']
            ]
            results['gt_seg_map'] = np.stack(masks) if masks else np.zeros(
                (0, height, width), np.uint8)
            return results
        results['gt_seg_map'] = union_mask(results['segmentations'], height,
                                           width)
        results['no_target'] = bool(results.get('no_target', False))
        fields = results.setdefault('seg_fields', [])
        if 'gt_seg_map' not in fields:
            fields.append('gt_seg_map')
        return results
