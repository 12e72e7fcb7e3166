"""Generalized RefShapes: RefShapes with multi-target and no-target sentences.

The images and the single-target sentences are drawn as in
:mod:`.refshapes` (3-5 shapes, every object the target of at least one
unique expression). Beside them each image gets sentences that refer to
several objects or to none, written in the gRefCOCO layout read by
:class:`~projects.risam.datasets.GReferDataset`.

Every sentence has two fields: ``kind`` (coarse: ``single``, ``multi`` or
``none``) and ``type`` (fine):

==============  ==========================================  ===============
kind / type     sentence                                    target
==============  ==========================================  ===============
single / *      today's five types (:mod:`.refshapes`)      one object
multi /         "all the red shapes" (>= 2 red objects)      the red ones
multi_colour
multi /         "all the circles" (>= 2 circles)             the circles
multi_shape
multi /         "the two circles", "the three red shapes",   that group
multi_count     "the two red circles" (exact count >= 2)
multi /         "every shape except the red circle" (the     all the others
multi_except    excluded one named by a unique colour,
                shape or colour+shape expression)
none / colour   "the red shape" with no red object           empty
none / shape    "the circle" with no circle                  empty
none /          "the red circle" with no red circle (red     empty
colour_shape    things and circles may be there)
none / size     "the biggest/smallest shape" when every      empty
                object has the same size
==============  ==========================================  ===============

No-target sentences are the single-target forms, so the words alone do not
give them away: "the red shape" is single-target where exactly one object
is red and no-target where none is (where several are, only "all the red
shapes" is written). A position word always fits some object of a picture
that holds shapes ("the leftmost shape" is never false, at most ambiguous
when two shapes tie), so there are no position no-target sentences.

Proportions (per sentence) follow gRefCOCO, whose 278,232 expressions
include 80,022 multi-target and 32,202 no-target ones (Liu et al., "GRES:
Generalized Referring Expression Segmentation", CVPR 2023, Sec. 3): 59.7 %
single, 28.8 % multi, 11.6 % none. Every single-target sentence of an image
is kept, and multi-target and no-target sentences are added at
``MULTI_PER_SINGLE`` and ``NONE_PER_SINGLE`` per single-target sentence,
spread evenly over their fine types; where an image has too few candidates
the remainder is carried to the next image of the split.

Output (gRefCOCO's layout)::

    OUT_DIR/instances.json    COCO: images, annotations (polygons), categories
    OUT_DIR/grefs(unc).json   list of refs: ``ann_id`` and ``category_id``
                              are lists (``[-1]`` and ``no_target=True``
                              for no target); one ref per target set
    OUT_DIR/images/refshapes_<image_id>.png

Everything is a function of ``seed``: the annotation files are byte-identical
across runs with the same arguments.
"""
import json
import os
import os.path as osp
from collections import Counter, OrderedDict
from typing import Dict, FrozenSet, List, Tuple

import numpy as np
from mmengine.utils import ProgressBar

from .refshapes import COLOURS, SHAPES, _image, split_plan, write_image, write_instances

__all__ = [
    'KINDS',
    'MULTI_TYPES',
    'NONE_TYPES',
    'generate_grefshapes',
    'multi_target_expressions',
    'no_target_expressions'
]

# gRefCOCO (GRES, CVPR 2023, Sec. 3): 278,232 expressions, 80,022 of them
# multi-target and 32,202 no-target; the rest (166,008) single-target.
MULTI_PER_SINGLE = 80022 / 166008
NONE_PER_SINGLE = 32202 / 166008
KINDS = ('single', 'multi', 'none')
MULTI_TYPES = ('multi_colour', 'multi_shape', 'multi_count', 'multi_except')
NONE_TYPES = ('colour', 'shape', 'colour_shape', 'size')
NUMBERS = {2: 'two', 3: 'three', 4: 'four', 5: 'five'}

Expression = Tuple[str, str, FrozenSet[int]]  # type, sentence, objects


def _groups(objs: List[dict]) -> 'OrderedDict[Tuple[str, str], List[int]]':
    """Objects by colour (``('colour', c)``), shape and colour+shape."""
    groups: 'OrderedDict[Tuple[str, str], List[int]]' = OrderedDict()
    for i, o in enumerate(objs):
        for key in (('colour', o['colour']), ('shape', o['shape']),
                    ('colour_shape', f'{o["colour"]} {o["shape"]}')):
            groups.setdefault(key, []).append(i)
    return groups


def multi_target_expressions(
        objs: List[dict],
        single: List[List[Tuple[str, str]]]) -> List[Expression]:
    """Every multi-target expression of one image.

    ``single`` is each object's list of unique ``(type, sentence)``
    expressions; the colour, shape and colour+shape ones name the object
    left out of "every shape except ...".
    """
    out: List[Expression] = []
    for (attr, value), members in _groups(objs).items():
        if len(members) < 2:
            continue
        target = frozenset(members)
        noun = f'{value} shapes' if attr == 'colour' else f'{value}s'
        if attr == 'colour':
            out.append(('multi_colour', f'all the {value} shapes', target))
        elif attr == 'shape':
            out.append(('multi_shape', f'all the {value}s', target))
        out.append(('multi_count', f'the {NUMBERS[len(members)]} {noun}',
                    target))
    everyone = frozenset(range(len(objs)))
    for i, exprs in enumerate(single):
        for kind, sent in exprs:
            if kind in ('colour', 'shape', 'colour_shape'):
                name = sent[len('the '):]
                out.append(('multi_except', f'every shape except the {name}',
                            everyone - {i}))
    return out


def no_target_expressions(objs: List[dict]) -> List[Expression]:
    """Every no-target expression of one image (target: the empty set)."""
    colours = {o['colour'] for o in objs}
    shapes = {o['shape'] for o in objs}
    pairs = {(o['colour'], o['shape']) for o in objs}
    none: FrozenSet[int] = frozenset()
    out: List[Expression] = []
    out += [('colour', f'the {c} shape', none) for c in COLOURS
            if c not in colours]
    out += [('shape', f'the {s}', none) for s in SHAPES if s not in shapes]
    out += [('colour_shape', f'the {c} {s}', none) for c in COLOURS
            for s in SHAPES if (c, s) not in pairs]
    if len({o['size_cls'] for o in objs}) == 1:
        out += [('size', 'the biggest shape', none),
                ('size', 'the smallest shape', none)]
    return out


def _pick(rng: np.random.Generator, candidates: List[Expression],
          n: int) -> List[Expression]:
    """``n`` candidates spread evenly over their types (round robin over the
    types in random order, each type's candidates shuffled)."""
    by_type: 'OrderedDict[str, List[Expression]]' = OrderedDict()
    for c in candidates:
        by_type.setdefault(c[0], []).append(c)
    queues = [[members[j] for j in rng.permutation(len(members))]
              for members in by_type.values()]
    queues = [queues[j] for j in rng.permutation(len(queues))]
    picked: List[Expression] = []
    while len(picked) < n and any(queues):
        for q in queues:
            if q and len(picked) < n:
                picked.append(q.pop(0))
    return picked


class _Quota:
    """How many sentences of one kind an image gets: ``ratio`` per
    single-target sentence, the shortfall carried to the next image."""

    def __init__(self, ratio: float) -> None:
        self.ratio = ratio
        self.owed = 0.0

    def take(self, n_single: int, available: int) -> int:
        self.owed += self.ratio * n_single
        n = min(available, int(np.floor(self.owed + 0.5)))
        self.owed -= n
        return n


def generate_grefshapes(out_dir: str,
                        *,
                        train: int = 3000,
                        val: int = 300,
                        test: int = 300,
                        seed: int = 0,
                        size: int = 128,
                        progress: bool = True) -> Dict[str, Dict[str, int]]:
    """Write generalized RefShapes to ``out_dir``.

    Returns the number of sentences per split and kind,
    ``{split: {'single': n, 'multi': n, 'none': n}}``. Splits as RefShapes:
    train and val 3-5 objects per image, testA 3-4, testB 5.
    """
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(out_dir, 'images'), exist_ok=True)
    plan = split_plan(train, val, test)
    images: List[dict] = []
    anns: List[dict] = []
    refs: List[dict] = []
    counts: Dict[str, Dict[str, int]] = {}
    bar = ProgressBar(sum(p[1] for p in plan)) if progress else None
    sent_id = 0
    for split, n_images, (lo, hi) in plan:
        tally: Counter = Counter()
        multi_quota = _Quota(MULTI_PER_SINGLE)
        none_quota = _Quota(NONE_PER_SINGLE)
        for _ in range(n_images):
            image_id = len(images) + 1
            objs, single = _image(rng, int(rng.integers(lo, hi + 1)), size)
            image, image_anns = write_image(rng, out_dir, image_id,
                                            len(anns) + 1, objs, size)
            images.append(image)
            anns += image_anns
            exprs: List[Tuple[str, str, str, FrozenSet[int]]] = [
                ('single', kind, sent, frozenset([i]))
                for i, obj_exprs in enumerate(single)
                for kind, sent in obj_exprs
            ]
            n_single = len(exprs)
            multi = multi_target_expressions(objs, single)
            none = no_target_expressions(objs)
            for kind, candidates, quota in (('multi', multi, multi_quota),
                                            ('none', none, none_quota)):
                n = quota.take(n_single, len(candidates))
                exprs += [(kind, t, s, target)
                          for t, s, target in _pick(rng, candidates, n)]
            # one ref per target set, in order of first appearance
            by_target: 'OrderedDict[FrozenSet[int], List[dict]]' = \
                OrderedDict()
            for kind, etype, sent, target in exprs:
                sent_id += 1
                by_target.setdefault(target, []).append(
                    dict(sent_id=sent_id, sent=sent, raw=sent,
                         tokens=sent.split(), type=etype, kind=kind))
                tally[kind] += 1
            for target, sentences in by_target.items():
                members = [image_anns[i] for i in sorted(target)]
                no_target = not members
                refs.append(
                    dict(
                        ref_id=len(refs) + 1,
                        ann_id=[a['id'] for a in members] or [-1],
                        category_id=[a['category_id']
                                     for a in members] or [-1],
                        image_id=image_id,
                        split=split,
                        file_name=image['file_name'],
                        no_target=no_target,
                        sentences=sentences,
                        sent_ids=[s['sent_id'] for s in sentences]))
            if bar is not None:
                bar.update()
        counts[split] = {k: tally[k] for k in KINDS}
    if bar is not None:
        print()
    with open(osp.join(out_dir, 'grefs(unc).json'), 'w') as f:
        json.dump(refs, f, sort_keys=True, separators=(',', ':'))
    # last: tools/run_demo.sh takes an existing instances.json as complete
    write_instances(out_dir,
                    f'Generalized RefShapes (seed={seed}, size={size})',
                    images, anns)
    return counts
