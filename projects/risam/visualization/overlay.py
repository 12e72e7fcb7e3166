"""Draw a referring mask and its sentence on an image."""
import textwrap
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

MASK_BGR: Tuple[int, int, int] = (60, 20, 220)
GT_BGR: Tuple[int, int, int] = (80, 200, 60)
MIN_WIDTH = 384


def _upscale(img: np.ndarray, *masks: np.ndarray) -> tuple:
    """Enlarge small images (nearest) so the text stays readable."""
    scale = max(1.0, MIN_WIDTH / img.shape[1])
    if scale == 1.0:
        return (img, *masks)
    size = (round(img.shape[1] * scale), round(img.shape[0] * scale))
    return (cv2.resize(img, size, interpolation=cv2.INTER_NEAREST),
            *(cv2.resize(m.astype(np.uint8), size,
                         interpolation=cv2.INTER_NEAREST) for m in masks))


def text_band(text: str, width: int) -> np.ndarray:
    """A black band of ``width`` pixels with ``text`` wrapped in white."""
    chars = max(10, width // 10)
    lines = textwrap.wrap(text, chars) or ['(empty sentence)']
    band = np.zeros((22 * len(lines) + 8, width, 3), np.uint8)
    for i, line in enumerate(lines):
        cv2.putText(band, line, (5, 22 * (i + 1)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.55, (255, 255, 255), 1, cv2.LINE_AA)
    return band


def overlay(img: np.ndarray,
            mask: np.ndarray,
            text: Optional[str],
            gt: Optional[np.ndarray] = None) -> np.ndarray:
    """BGR ``img`` with ``mask`` tinted and outlined, ``text`` above it
    (no band when ``text`` is None).

    Args:
        img: H x W x 3 uint8 BGR image.
        mask: H x W binary mask (the prediction, or the target).
        text: the sentence, or None for the image alone.
        gt: optional H x W target, outlined in green for comparison.
    """
    masks = (mask,) if gt is None else (mask, gt)
    img, *masks = _upscale(img, *masks)
    out = img.astype(np.float32)
    on = masks[0] > 0
    out[on] = 0.45 * out[on] + 0.55 * np.array(MASK_BGR, np.float32)
    out = out.astype(np.uint8)
    contours, _ = cv2.findContours(on.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(out, contours, -1, (255, 255, 255), 1)
    if gt is not None:
        contours, _ = cv2.findContours((masks[1] > 0).astype(np.uint8),
                                       cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, GT_BGR, 2)
    if text is None:
        return out
    return np.concatenate([text_band(text, out.shape[1]), out], 0)


def grid(tiles: Sequence[np.ndarray], cols: int) -> np.ndarray:
    """Tile images row by row; each cell is padded to the largest tile."""
    if not tiles:
        raise ValueError('grid() needs at least one tile')
    h = max(t.shape[0] for t in tiles)
    w = max(t.shape[1] for t in tiles)
    cells = [cv2.copyMakeBorder(t, 0, h - t.shape[0], 0, w - t.shape[1],
                                cv2.BORDER_CONSTANT, value=(255, 255, 255))
             for t in tiles]
    cells += [np.full_like(cells[0], 255)] * (-len(cells) % cols)
    rows = [np.concatenate(cells[i:i + cols], 1)
            for i in range(0, len(cells), cols)]
    return np.concatenate(rows, 0)
