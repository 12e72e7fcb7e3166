"""Rules that annotations and images must pass before they reach a metric.

An invalid target must never become an empty mask silently: an empty
prediction would then score IoU 1 on it and inflate mIoU and Pr@X. The same
rules serve the datasets (checked when a dataset is built) and
``tools/dataset_converters/check_data.py`` (checked after a download).

Annotations (:func:`segmentation_problem`):

- a polygon segmentation needs at least one part, every part at least 3
  points (6 numbers), and the parts a non-zero area inside the image;
- an RLE must have the image's size (and, uncompressed, counts that cover
  it exactly) and at least one foreground pixel.

Images (:func:`image_problem`): the file exists, is not empty, decodes, and
is not cut short (JPEG: the end-of-image marker; PNG: the ``IEND`` chunk;
any format: Pillow's full decode does not report truncation).

Each problem is a string ``"<kind>: <details>"``; the kind alone is what a
summary counts.
"""
import io
import os.path as osp
from typing import Any, Optional, Sequence

import numpy as np
import pycocotools.mask as mask_utils

__all__ = ['image_problem', 'polygon_points', 'segmentation_problem']

_JPEG_EOI = b'\xff\xd9'
_PNG_IEND = b'IEND\xaeB`\x82'


def polygon_points(part: Any) -> Optional[int]:
    """Number of points of one flat ``[x1, y1, x2, y2, ...]`` polygon, or
    None when it is not a flat list of an even count of numbers."""
    if not isinstance(part, (list, tuple)) or len(part) % 2:
        return None
    if not all(isinstance(c, (int, float)) and not isinstance(c, bool)
               and np.isfinite(c) for c in part):
        return None
    return len(part) // 2


def _polygon_problem(parts: Sequence, height: Optional[int],
                     width: Optional[int]) -> Optional[str]:
    if len(parts) == 0:
        return 'empty polygon: the segmentation has no polygon'
    for i, part in enumerate(parts):
        n = polygon_points(part)
        if n is None:
            return (f'malformed polygon: part {i} is not a flat list of '
                    'x, y numbers')
        if n < 3:
            return (f'polygon with fewer than 3 points: part {i} has {n}')
    xs = np.concatenate([np.asarray(p[0::2], float) for p in parts])
    ys = np.concatenate([np.asarray(p[1::2], float) for p in parts])
    if height is None or width is None:  # size unknown: the shape itself
        x0, y0 = np.floor(xs.min()), np.floor(ys.min())
        parts = [[c - (x0 if j % 2 == 0 else y0) for j, c in enumerate(p)]
                 for p in parts]
        height = int(np.ceil(ys.max() - y0)) + 1
        width = int(np.ceil(xs.max() - x0)) + 1
    elif xs.max() <= 0 or ys.max() <= 0 or xs.min() >= width \
            or ys.min() >= height:
        return (f'polygon outside the image: x {xs.min():g}..{xs.max():g}, '
                f'y {ys.min():g}..{ys.max():g} for a {width} x {height} '
                'image')
    rle = mask_utils.merge(mask_utils.frPyObjects(
        [list(map(float, p)) for p in parts], height, width))
    if int(mask_utils.area(rle)) == 0:
        return 'zero-area polygon: it covers no pixel of the image'
    return None


def _rle_problem(rle: dict, height: Optional[int],
                 width: Optional[int]) -> Optional[str]:
    size = rle.get('size')
    counts = rle.get('counts')
    if not (isinstance(size, (list, tuple)) and len(size) == 2) \
            or counts is None:
        return 'malformed RLE: needs "size" [h, w] and "counts"'
    if height is not None and width is not None \
            and [int(size[0]), int(size[1])] != [height, width]:
        return (f'RLE size mismatch: {list(size)} for a {height} x {width} '
                'image')
    h, w = int(size[0]), int(size[1])
    try:
        if isinstance(counts, list):
            if sum(counts) != h * w:
                return (f'malformed RLE: counts cover {sum(counts)} pixels,'
                        f' the image {h * w}')
            rle = mask_utils.frPyObjects(dict(rle), h, w)
        elif isinstance(counts, str):
            rle = dict(rle, counts=counts.encode())
        area = int(mask_utils.area(rle))
    except Exception as e:  # pycocotools: bad compressed counts
        return f'malformed RLE: {type(e).__name__}: {e}'
    if area == 0:
        return 'empty RLE: the mask has no foreground pixel'
    return None


def segmentation_problem(segm: Any, height: Optional[int],
                         width: Optional[int]) -> Optional[str]:
    """What is wrong with one COCO segmentation, or None if it is usable.

    Args:
        segm: polygons (list of flat lists) or an RLE dict.
        height, width: the image size; None when the annotation file does
            not give it (then only the polygon's own shape is checked).
    """
    if isinstance(segm, (list, tuple)):
        return _polygon_problem(segm, height, width)
    if isinstance(segm, dict):
        return _rle_problem(segm, height, width)
    return (f'unknown segmentation format: {type(segm).__name__} (expected '
            'polygons or RLE)')


def _truncated(data: bytes) -> Optional[str]:
    if data[:2] == b'\xff\xd8' and _JPEG_EOI not in data[-1024:]:
        return 'truncated image: the JPEG ends before its end-of-image marker'
    if data[:8] == b'\x89PNG\r\n\x1a\n' and _PNG_IEND not in data[-64:]:
        return 'truncated image: the PNG ends before its IEND chunk'
    return None


def image_problem(path: str, decode: bool = True) -> Optional[str]:
    """What is wrong with an image file, or None if it reads completely.

    Args:
        path: the image file.
        decode: also decode it fully with Pillow (catches damage the end
            markers do not show). False checks existence and the markers.
    """
    if not osp.isfile(path):
        return 'missing image: file not found'
    with open(path, 'rb') as f:
        data = f.read()
    if not data:
        return 'unreadable image: empty file'
    problem = _truncated(data)
    if problem or not decode:
        return problem
    from PIL import Image
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
    except OSError as e:
        if 'truncated' in str(e):
            return f'truncated image: {e}'
        return f'unreadable image: {e}'
    except Exception as e:  # Pillow raises various types on bad data
        return f'unreadable image: {type(e).__name__}: {e}'
    return None
