"""Does a colour word look at its colour? The colour-word ratio of the
language-guided attention (Fig. 7(b), Eq. 3-5) over RefShapes.

For a sentence with a colour word ``c`` (``"the red shape"``, ``"the red
circle"``) and word ``c``'s map ``m`` over the image
(:attr:`~projects.risam.visualization.attention_maps.AttentionMaps.word_maps`),
with ``P`` the pixels of every object of colour ``c`` in the image::

    ratio = (sum_P m / sum m) / (|P| / (H W))

1 is a map that ignores colour (uniform, or anywhere else as much as on
``P``); above 1 the word's attention gathers on its colour. The same ratio
of the word ``"the"`` on the same pixels is the control.
"""
import os.path as osp
from dataclasses import asdict, dataclass
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import pycocotools.mask as mask_utils
import torch

from ..datasets.refer_io import load_json, load_refs
from ..datasets.refshapes import COLOURS
from .attention_maps import record_attention

#: the RefShapes sentence types that name a colour
COLOUR_TYPES: Tuple[str, ...] = ('colour', 'colour_shape')
CONTROL_WORD = 'the'


@dataclass
class ColourRatio:
    """One sentence's ratio (see the module docstring)."""

    image: str
    sentence: str
    type: str
    colour: str
    ratio: float
    control: float
    area_share: float


def mass_ratio(word_map: np.ndarray, pixels: np.ndarray) -> float:
    """``(sum of word_map on pixels / its total) / (pixels' share of the
    image)``; ``pixels`` is a bool ``H x W`` with at least one pixel."""
    share = float(pixels.mean())
    if share == 0:
        raise ValueError('mass_ratio needs at least one pixel')
    total = float(word_map.sum())
    return float(word_map[pixels].sum()) / max(total, 1e-30) / share


def colour_sentences(data_root: str, split: str = 'val',
                     types: Sequence[str] = COLOUR_TYPES
                     ) -> Iterator[Tuple[str, dict, str, np.ndarray]]:
    """RefShapes' sentences of ``types`` in ``split``: ``(image path,
    sentence dict, colour, bool H x W mask of every object of that colour
    in the image)``."""
    instances = load_json(osp.join(data_root, 'instances.json'))
    refs = load_refs(osp.join(data_root, 'refs(unc).p'))
    images = {i['id']: i for i in instances['images']}
    anns: Dict[int, List[dict]] = {}
    for ann in instances['annotations']:
        anns.setdefault(ann['image_id'], []).append(ann)
    by_id = {a['id']: a for a in instances['annotations']}
    for ref in refs:
        if ref['split'] != split:
            continue
        image = images[ref['image_id']]
        colour = by_id[ref['ann_id']]['attributes']['colour']
        path = osp.join(data_root, 'images', image['file_name'])
        h, w = image['height'], image['width']
        pixels = np.zeros((h, w), bool)
        for ann in anns[ref['image_id']]:
            if ann['attributes']['colour'] == colour:
                rle = mask_utils.merge(
                    mask_utils.frPyObjects(ann['segmentation'], h, w))
                pixels |= mask_utils.decode(rle).astype(bool)
        for sent in ref['sentences']:
            if sent.get('type') in types:
                yield path, sent, colour, pixels


def colour_ratios(model: torch.nn.Module, data_root: str,
                  split: str = 'val', blocks: Sequence[int] = (2, ),
                  types: Sequence[str] = COLOUR_TYPES,
                  limit: Optional[int] = None
                  ) -> Dict[int, List[ColourRatio]]:
    """The ratio of every colour sentence of RefShapes ``split`` (the
    first ``limit`` ones if given) for each of ``blocks`` (1-based); the
    model runs once per image."""
    by_image: Dict[str, List[Tuple[dict, str, np.ndarray]]] = {}
    for n, (path, sent, colour, pixels) in enumerate(
            colour_sentences(data_root, split, types)):
        if limit is not None and n >= limit:
            break
        by_image.setdefault(path, []).append((sent, colour, pixels))
    rows: Dict[int, List[ColourRatio]] = {b: [] for b in blocks}
    for path, items in by_image.items():
        maps = record_attention(model, path, [s['sent'] for s, _, _ in items],
                                blocks)
        for block in blocks:
            for (sent, colour, pixels), m in zip(items, maps[block]):
                if colour not in m.words or CONTROL_WORD not in m.words:
                    raise ValueError(f'{path}: "{sent["sent"]}" has no '
                                     f'token "{colour}" or "{CONTROL_WORD}"')
                rows[block].append(ColourRatio(
                    image=osp.basename(path), sentence=sent['sent'],
                    type=sent['type'], colour=colour,
                    ratio=mass_ratio(m.word_maps[m.words.index(colour)],
                                     pixels),
                    control=mass_ratio(
                        m.word_maps[m.words.index(CONTROL_WORD)], pixels),
                    area_share=float(pixels.mean())))
    return rows


def _spread(values: Sequence[float]) -> Dict[str, float]:
    v = np.asarray(values, float)
    q1, median, q3 = np.percentile(v, [25, 50, 75])
    return dict(n=len(v), median=round(float(median), 3),
                q1=round(float(q1), 3), q3=round(float(q3), 3),
                above_1=round(float((v > 1).mean()), 3))


def summarize(rows: Sequence[ColourRatio]) -> Dict[str, object]:
    """Median, quartiles and share above 1 of the ratios: all, per colour
    and per sentence type, and of the control word."""
    if not rows:
        raise ValueError('no colour sentences to summarize')
    return dict(
        all=_spread([r.ratio for r in rows]),
        control=_spread([r.control for r in rows]),
        by_colour={c: _spread([r.ratio for r in rows if r.colour == c])
                   for c in COLOURS if any(r.colour == c for r in rows)},
        by_type={t: _spread([r.ratio for r in rows if r.type == t])
                 for t in COLOUR_TYPES if any(r.type == t for r in rows)},
        rows=[asdict(r) for r in rows])
