"""RefShapes: a generated referring-segmentation benchmark in the refer layout.

Each image (``size`` x ``size`` px, textured grey background) holds 3-5
non-overlapping shapes (circle, square, triangle, diamond) in four colours
(red, green, blue, yellow) and three sizes. For every object we write every
expression of the following kinds that identifies it *uniquely* in its image
(``type`` is stored with each sentence):

=============  ======================================================
type           sentence
=============  ======================================================
colour         "the red shape"            (only red object)
shape          "the circle"               (only circle)
colour_shape   "the red circle"           (only red circle)
position       "the leftmost/rightmost/top/bottom shape" (by centre,
               with a margin of ``0.12 * size`` to the runner-up)
size           "the biggest/smallest shape" (strictly largest/smallest
               size class)
=============  ======================================================

Images in which some object has no unique expression are re-drawn, so every
object is the target of at least one sentence and no split can be solved
without reading the sentence.

Splits (by image): ``train`` and ``val`` draw 3-5 objects per image;
``testA`` holds sparse images (3-4 objects), ``testB`` crowded ones
(5 objects), mirroring RefCOCO's testA/testB being two distinct populations.

Output (exactly RefCOCO's layout)::

    OUT_DIR/instances.json    COCO: images, annotations (polygons), categories
    OUT_DIR/refs(unc).p       pickled list of refs (plain containers only)
    OUT_DIR/images/refshapes_<image_id>.png

Everything is a function of ``seed``: the annotation files are byte-identical
across runs with the same arguments.
"""
import json
import os
import os.path as osp
import pickle
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np
import pycocotools.mask as mask_utils
from mmengine.utils import ProgressBar

__all__ = ['COLOURS', 'SHAPES', 'generate_refshapes']

SHAPES = ('circle', 'square', 'triangle', 'diamond')
COLOURS: Dict[str, Tuple[int, int, int]] = {  # RGB
    'red': (220, 40, 40),
    'green': (40, 180, 60),
    'blue': (40, 80, 230),
    'yellow': (235, 215, 40),
}
SIZE_RADII = (0.085, 0.12, 0.16)  # half-extent of each size class / image
POSITION_MARGIN = 0.12  # fraction of the image size
CIRCLE_VERTICES = 24


def _polygon(shape: str, cx: float, cy: float, r: float) -> np.ndarray:
    """Vertices (K x 2, x/y in px) of one shape of half-extent ``r``."""
    if shape == 'circle':
        t = np.arange(CIRCLE_VERTICES) * 2 * np.pi / CIRCLE_VERTICES
        pts = np.stack([np.cos(t), np.sin(t)], 1)
    elif shape == 'square':
        pts = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], float) * 0.85
    elif shape == 'triangle':
        pts = np.array([[0, -1], [0.95, 0.75], [-0.95, 0.75]], float)
    elif shape == 'diamond':
        pts = np.array([[0, -1], [1, 0], [0, 1], [-1, 0]], float)
    else:
        raise ValueError(f'unknown shape {shape!r}')
    return np.round(pts * r + [cx, cy], 2)


def _place(rng: np.random.Generator, n: int, size: int,
           max_tries: int = 200) -> Optional[List[dict]]:
    """Draw ``n`` non-overlapping objects, or None when they do not fit."""
    objs: List[dict] = []
    for _ in range(n):
        for _ in range(max_tries):
            size_cls = int(rng.integers(len(SIZE_RADII)))
            r = SIZE_RADII[size_cls] * size
            cx, cy = rng.uniform(r + 2, size - r - 2, 2)
            if all((cx - o['cx'])**2 + (cy - o['cy'])**2 >=
                   (r + o['r'] + 0.04 * size)**2 for o in objs):
                break
        else:
            return None
        objs.append(
            dict(
                shape=SHAPES[int(rng.integers(len(SHAPES)))],
                colour=list(COLOURS)[int(rng.integers(len(COLOURS)))],
                size_cls=size_cls,
                r=float(r),
                cx=float(cx),
                cy=float(cy)))
    return objs


def _extreme(values: List[float], i: int, margin: float, lowest: bool) -> bool:
    """Is ``values[i]`` the extreme one with a clear margin to the rest?"""
    sign = 1 if lowest else -1
    others = [sign * v for j, v in enumerate(values) if j != i]
    return sign * values[i] + margin <= min(others)


def _expressions(objs: List[dict], size: int) -> List[List[Tuple[str, str]]]:
    """Per object, the (type, sentence) pairs that identify it uniquely."""
    margin = POSITION_MARGIN * size
    xs = [o['cx'] for o in objs]
    ys = [o['cy'] for o in objs]
    sizes = [float(o['size_cls']) for o in objs]
    out = []
    for i, o in enumerate(objs):
        others = [p for j, p in enumerate(objs) if j != i]
        exprs = []
        if all(p['colour'] != o['colour'] for p in others):
            exprs.append(('colour', f'the {o["colour"]} shape'))
        if all(p['shape'] != o['shape'] for p in others):
            exprs.append(('shape', f'the {o["shape"]}'))
        if all((p['colour'], p['shape']) != (o['colour'], o['shape'])
               for p in others):
            exprs.append(('colour_shape', f'the {o["colour"]} {o["shape"]}'))
        for word, vals, lowest in (('leftmost', xs, True),
                                   ('rightmost', xs, False),
                                   ('top', ys, True), ('bottom', ys, False)):
            if _extreme(vals, i, margin, lowest):
                exprs.append(('position', f'the {word} shape'))
        if _extreme(sizes, i, 0.5, lowest=False):
            exprs.append(('size', 'the biggest shape'))
        if _extreme(sizes, i, 0.5, lowest=True):
            exprs.append(('size', 'the smallest shape'))
        out.append(exprs)
    return out


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A grey texture: smooth blotches plus fine grain (H x W x 3 float)."""
    base = rng.uniform(95, 165)
    coarse = rng.normal(0, 18, (8, 8)).astype(np.float32)
    smooth = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    grain = rng.normal(0, 6, (size, size)).astype(np.float32)
    grey = base + smooth + grain
    tint = rng.normal(0, 4, 3)
    return np.clip(grey[..., None] + tint, 0, 255)


def _draw(rng: np.random.Generator, objs: List[dict], polys: List[np.ndarray],
          size: int) -> np.ndarray:
    """Render the image (BGR uint8) with each shape's polygon filled."""
    img = _background(rng, size)
    for o, poly in zip(objs, polys):
        mask = np.zeros((size, size), np.uint8)
        cv2.fillPoly(mask, [np.round(poly * 16).astype(np.int32)], 1,
                     lineType=cv2.LINE_8, shift=4)
        colour = np.array(COLOURS[o['colour']], float)
        colour = colour + rng.normal(0, 8, 3)
        shaded = colour + rng.normal(0, 5, (size, size, 1))
        img = np.where(mask[..., None] > 0, shaded, img)
    img = np.clip(np.round(img), 0, 255).astype(np.uint8)
    return img[..., ::-1]  # RGB -> BGR for cv2.imwrite


def _image(rng: np.random.Generator, n_objs: int,
           size: int) -> Tuple[List[dict], List[List[Tuple[str, str]]]]:
    """Draw objects until every one of them has a unique expression."""
    while True:
        objs = _place(rng, n_objs, size)
        if objs is None:
            continue
        exprs = _expressions(objs, size)
        if all(exprs):
            return objs, exprs


def split_plan(train: int, val: int, test: int) -> List[Tuple[str, int,
                                                              Tuple[int, int]]]:
    """``(split, n_images, (min, max) objects)``; ``test`` images are
    divided between testA (first half, 3-4 objects) and testB (5)."""
    return [('train', train, (3, 5)), ('val', val, (3, 5)),
            ('testA', test // 2, (3, 4)), ('testB', test - test // 2, (5, 5))]


def write_image(rng: np.random.Generator, out_dir: str, image_id: int,
                first_ann_id: int, objs: List[dict],
                size: int) -> Tuple[dict, List[dict]]:
    """Draw ``objs`` to ``images/refshapes_<image_id>.png`` under ``out_dir``.

    Returns the COCO image entry and one annotation per object (polygon
    ``segmentation``, ids from ``first_ann_id``, ``attributes`` colour /
    shape / size class).
    """
    polys = [_polygon(o['shape'], o['cx'], o['cy'], o['r']) for o in objs]
    file_name = f'refshapes_{image_id:06d}.png'
    cv2.imwrite(
        osp.join(out_dir, 'images', file_name), _draw(rng, objs, polys, size))
    image = dict(id=image_id, file_name=file_name, height=size, width=size)
    anns = []
    for k, (o, poly) in enumerate(zip(objs, polys)):
        segm = [[float(v) for v in poly.reshape(-1)]]
        rle = mask_utils.merge(mask_utils.frPyObjects(segm, size, size))
        x0, y0 = poly.min(0)
        x1, y1 = poly.max(0)
        anns.append(
            dict(
                id=first_ann_id + k,
                image_id=image_id,
                category_id=SHAPES.index(o['shape']) + 1,
                segmentation=segm,
                area=int(mask_utils.area(rle)),
                bbox=[round(float(v), 2)
                      for v in (x0, y0, x1 - x0, y1 - y0)],
                iscrowd=0,
                attributes=dict(colour=o['colour'], shape=o['shape'],
                                size=o['size_cls'])))
    return image, anns


def write_instances(out_dir: str, description: str, images: List[dict],
                    anns: List[dict]) -> None:
    """``instances.json`` (sorted keys, compact: byte-identical per seed)."""
    instances = dict(
        info=dict(description=description),
        images=images,
        annotations=anns,
        categories=[
            dict(id=i + 1, name=s, supercategory='shape')
            for i, s in enumerate(SHAPES)
        ])
    with open(osp.join(out_dir, 'instances.json'), 'w') as f:
        json.dump(instances, f, sort_keys=True, separators=(',', ':'))


def generate_refshapes(out_dir: str,
                       *,
                       train: int = 3000,
                       val: int = 300,
                       test: int = 300,
                       seed: int = 0,
                       size: int = 128,
                       progress: bool = True) -> Dict[str, int]:
    """Write RefShapes to ``out_dir``; return the number of refs per split.

    ``test`` images are divided between testA (first half, 3-4 objects) and
    testB (second half, 5 objects).
    """
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(out_dir, 'images'), exist_ok=True)
    plan = split_plan(train, val, test)
    images, anns, refs = [], [], []
    counts: Dict[str, int] = {}
    bar = ProgressBar(sum(p[1] for p in plan)) if progress else None
    sent_id = 0
    for split, n_images, (lo, hi) in plan:
        counts[split] = 0
        for _ in range(n_images):
            image_id = len(images) + 1
            objs, exprs = _image(rng, int(rng.integers(lo, hi + 1)), size)
            image, image_anns = write_image(rng, out_dir, image_id,
                                            len(anns) + 1, objs, size)
            images.append(image)
            anns += image_anns
            for ann, obj_exprs in zip(image_anns, exprs):
                sentences = []
                for kind, sent in obj_exprs:
                    sent_id += 1
                    sentences.append(
                        dict(sent_id=sent_id, sent=sent, raw=sent,
                             tokens=sent.split(), type=kind))
                refs.append(
                    dict(
                        ref_id=len(refs) + 1,
                        ann_id=ann['id'],
                        image_id=image_id,
                        category_id=ann['category_id'],
                        split=split,
                        file_name=image['file_name'],
                        sentences=sentences,
                        sent_ids=[s['sent_id'] for s in sentences]))
                counts[split] += 1
            if bar is not None:
                bar.update()
    if bar is not None:
        print()
    write_instances(out_dir, f'RefShapes (seed={seed}, size={size})', images,
                    anns)
    with open(osp.join(out_dir, 'refs(unc).p'), 'wb') as f:
        pickle.dump(refs, f, protocol=2)
    return counts
