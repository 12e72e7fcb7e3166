"""Pictures of :class:`~projects.risam.visualization.attention_maps.AttentionMaps`
(Fig. 7), and the files the attention tool writes."""
import json
import os
import os.path as osp
from typing import Dict, Optional

import cv2
import numpy as np

from .attention_maps import AttentionMaps, Box, check_box
from .overlay import grid, overlay, text_band

#: side of the image in the pictures (small images are enlarged)
SIDE = 256
BAR_BGR = (200, 120, 40)
REMOVED_BGR = (40, 40, 220)


def short_word(word: str) -> str:
    """CLIP's start and end tokens as ``<sot>`` / ``<eot>``."""
    return {'<start_of_text>': '<sot>', '<end_of_text>': '<eot>'}.get(word,
                                                                      word)


def _enlarge(img: np.ndarray) -> np.ndarray:
    return cv2.resize(img, (SIDE, round(SIDE * img.shape[0] / img.shape[1])),
                      interpolation=cv2.INTER_NEAREST)


def _scale(maps: AttentionMaps) -> float:
    return SIDE / maps.mask.shape[1]


def _outline(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """White outline of the predicted mask (both at the drawing size)."""
    contours, _ = cv2.findContours((mask > 0).astype(np.uint8),
                                   cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    return cv2.drawContours(img, contours, -1, (255, 255, 255), 1)


def draw_word_map(img: np.ndarray, maps: AttentionMaps,
                  word: int) -> np.ndarray:
    """Fig. 7(b3): word ``word``'s language-guided map as a heat map over
    the BGR image (each map stretched from its minimum to its maximum; the
    title gives the maximum over the mean), the predicted mask outlined in
    white; pixels whose pair with the word the Eq. 4 mask removed are
    hatched in red."""
    heat = maps.word_maps[word]
    low, high, mean = float(heat.min()), float(heat.max()), float(heat.mean())
    heat = (heat - low) / max(high - low, 1e-12)
    colour = cv2.applyColorMap((255 * heat).astype(np.uint8),
                               cv2.COLORMAP_JET)
    out = _enlarge(cv2.addWeighted(img, 0.45, colour, 0.55, 0))
    removed = _enlarge(maps.removed[word].astype(np.uint8)) > 0
    hatch = (np.add.outer(np.arange(out.shape[0]),
                          np.arange(out.shape[1])) % 8) < 2
    out[removed & hatch] = REMOVED_BGR
    out = _outline(out, _enlarge(maps.mask))
    share = 100 * maps.removed[word].mean()
    title = f'"{short_word(maps.words[word])}": max {high / max(mean, 1e-12):.1f}x mean'
    if share > 0:
        title += f', tau -{share:.0f}%'
    return np.concatenate([text_band(title, out.shape[1]), out], 0)


def draw_word_weights(img: np.ndarray, maps: AttentionMaps,
                      box: Optional[Box] = None) -> np.ndarray:
    """Fig. 7(a3): the image with ``box`` (default: the whole image) and
    the predicted mask, beside a bar per word of the vision-guided weights
    averaged over the box; a word whose pair the Eq. 4 mask removed for
    some of the box's pixels is marked in red with that share."""
    box = check_box(box or maps.full_box(), maps.mask.shape)
    weights, removed = maps.region_weights(box)
    s = _scale(maps)
    left = _outline(_enlarge(img), _enlarge(maps.mask))
    x, y, w, h = (round(v * s) for v in box)
    cv2.rectangle(left, (x, y), (x + w - 1, y + h - 1), (0, 255, 255), 2)
    row = 24
    panel = np.full((max(left.shape[0], row * (len(weights) + 1)), 360, 3),
                    255, np.uint8)
    top = max(float(weights.max()), 1e-12)
    for i, (word, value, gone) in enumerate(zip(maps.words, weights,
                                                removed)):
        yy = row * (i + 1)
        colour = REMOVED_BGR if gone > 0 else (0, 0, 0)
        cv2.putText(panel, short_word(word)[:14], (4, yy), cv2.FONT_HERSHEY_SIMPLEX,
                    0.45, colour, 1, cv2.LINE_AA)
        cv2.rectangle(panel, (120, yy - 12),
                      (120 + round(150 * value / top), yy), BAR_BGR, -1)
        label = f'{value:.2f}' + (f' tau -{100 * gone:.0f}%' if gone else '')
        cv2.putText(panel, label, (276, yy), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    colour, 1, cv2.LINE_AA)
    left = cv2.copyMakeBorder(left, 0, panel.shape[0] - left.shape[0], 0, 0,
                              cv2.BORDER_CONSTANT, value=(255, 255, 255))
    body = np.concatenate([left, panel], 1)
    title = (f'"{maps.sentence}": word weights of block {maps.block} over '
             f'box {box}')
    return np.concatenate([text_band(title, body.shape[1]), body], 0)


def draw_all_word_maps(img: np.ndarray, maps: AttentionMaps,
                       cols: int = 4) -> np.ndarray:
    """The predicted mask, then every word's map (:func:`draw_word_map`)."""
    first = cv2.resize(overlay(img, maps.mask, maps.sentence),
                       None, fx=SIDE / max(img.shape[1], 384),
                       fy=SIDE / max(img.shape[1], 384))
    tiles = [first] + [draw_word_map(img, maps, j)
                       for j in range(len(maps.words))]
    return grid(tiles, cols)


def save_attention(out_dir: str, img: np.ndarray, maps: AttentionMaps,
                   box: Optional[Box] = None) -> Dict[str, str]:
    """Write the pictures and the raw arrays of ``maps`` to ``out_dir``:

    - ``word_weights.png`` (:func:`draw_word_weights`),
      ``word_maps.png`` (:func:`draw_all_word_maps`);
    - ``attention.npy`` (``h x w x L``), ``allowed.npy``,
      ``word_maps.npy`` (``L x H x W``), ``removed.npy``, ``mask.npy``;
    - ``attention.json``: sentence, words, block, tau, box, and the box's
      word weights and removed shares.

    Returns the paths by name.
    """
    os.makedirs(out_dir, exist_ok=True)
    box = check_box(box or maps.full_box(), maps.mask.shape)
    weights, removed = maps.region_weights(box)
    paths = {name: osp.join(out_dir, name) for name in (
        'word_weights.png', 'word_maps.png', 'attention.npy', 'allowed.npy',
        'word_maps.npy', 'removed.npy', 'mask.npy', 'attention.json')}
    cv2.imwrite(paths['word_weights.png'], draw_word_weights(img, maps, box))
    cv2.imwrite(paths['word_maps.png'], draw_all_word_maps(img, maps))
    for name in ('attention', 'allowed', 'word_maps', 'removed', 'mask'):
        np.save(paths[f'{name}.npy'], getattr(maps, name))
    with open(paths['attention.json'], 'w') as f:
        json.dump(dict(sentence=maps.sentence, words=maps.words,
                       block=maps.block, tau=maps.tau, box=list(box),
                       word_weights=[round(float(v), 6) for v in weights],
                       removed_share=[round(float(v), 6) for v in removed]),
                  f, indent=1)
    return paths
