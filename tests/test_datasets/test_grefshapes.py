"""Generalized RefShapes: files, proportions, and what every sentence names.

The targets are checked against an interpreter of the sentences written
here from the grammar in the module docstring, reading only the objects'
attributes in ``instances.json`` (colour, shape, size class), not the
generator's code.
"""
import json
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Set

import numpy as np
import pycocotools.mask as mask_utils
import pytest
from mmengine.registry import init_default_scope

from projects.risam.datasets import GReferDataset
from projects.risam.datasets.grefshapes import MULTI_TYPES, NONE_TYPES, generate_grefshapes

SMALL = dict(train=40, val=12, test=12, size=96, progress=False)
NUMBER_WORDS = {'two': 2, 'three': 3, 'four': 4, 'five': 5}
COLOURS = ('red', 'green', 'blue', 'yellow')
SHAPES = ('circle', 'square', 'triangle', 'diamond')


def _describe(words: List[str], objs: List[dict]) -> Set[int]:
    """Objects fitting "red shape(s)", "circle(s)" or "red circle(s)"."""
    colour = words[0] if words[0] in COLOURS else None
    noun = words[-1].rstrip('s')
    shape = noun if noun in SHAPES else None
    assert noun == 'shape' or shape, words
    return {i for i, o in enumerate(objs)
            if colour in (None, o['colour']) and shape in (None, o['shape'])}


def named_objects(sent: str, objs: List[dict]) -> Optional[Set[int]]:
    """The objects ``sent`` names (None: a position sentence, not read)."""
    words = sent.split()
    if sent.startswith('every shape except the '):
        left_out = named_objects(sent[len('every shape except '):], objs)
        assert left_out is not None and len(left_out) == 1, sent
        return set(range(len(objs))) - left_out
    if words[:2] == ['all', 'the']:
        return _describe(words[2:], objs)
    if words[1] in NUMBER_WORDS:
        group = _describe(words[2:], objs)
        return group if len(group) == NUMBER_WORDS[words[1]] else set()
    if words[1] in ('biggest', 'smallest'):
        sizes = [o['size'] for o in objs]
        best = max(sizes) if words[1] == 'biggest' else min(sizes)
        return {i for i, s in enumerate(sizes) if s == best} \
            if len(set(sizes)) > 1 else set()
    if words[1] in ('leftmost', 'rightmost', 'top', 'bottom'):
        return None
    return _describe(words[1:], objs)


def _load(root: Path):
    inst = json.loads((root / 'instances.json').read_text())
    refs = json.loads((root / 'grefs(unc).json').read_text())
    anns: Dict[int, List[dict]] = {}
    for a in inst['annotations']:
        anns.setdefault(a['image_id'], []).append(a)
    return inst, refs, anns


@pytest.fixture(scope='module')
def grefshapes(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('grefshapes')
    generate_grefshapes(str(root), seed=5, **SMALL)
    return root


def test_same_seed_same_bytes(grefshapes, tmp_path):
    generate_grefshapes(str(tmp_path / 'b'), seed=5, **SMALL)
    for name in ('instances.json', 'grefs(unc).json'):
        assert (grefshapes / name).read_bytes() == \
            (tmp_path / 'b' / name).read_bytes()
    images = sorted(p.name for p in (grefshapes / 'images').iterdir())
    assert len(images) == 64
    assert all((grefshapes / 'images' / n).read_bytes() ==
               (tmp_path / 'b' / 'images' / n).read_bytes() for n in images)
    generate_grefshapes(str(tmp_path / 'c'), seed=6, **SMALL)
    assert (grefshapes / 'grefs(unc).json').read_bytes() != \
        (tmp_path / 'c' / 'grefs(unc).json').read_bytes()


def test_every_target_is_what_the_sentence_names(grefshapes):
    _, refs, anns = _load(grefshapes)
    checked = Counter()
    for ref in refs:
        image_anns = anns[ref['image_id']]
        objs = [a['attributes'] for a in image_anns]
        ids = [a['id'] for a in image_anns]
        for s in ref['sentences']:
            named = named_objects(s['sent'], objs)
            if s['kind'] == 'none':
                # no-target: nothing in the image fits the sentence
                assert named == set(), s['sent']
                assert ref['ann_id'] == [-1] and ref['no_target']
            else:
                assert not ref['no_target']
                n = len(ref['ann_id'])
                assert n == 1 if s['kind'] == 'single' else n >= 2, s['sent']
            if named is not None and s['kind'] != 'none':
                assert sorted(ids[i] for i in named) == ref['ann_id'], \
                    s['sent']
            checked[s['kind'], named is not None] += 1
    assert checked['none', True] > 20 and checked['multi', True] > 60
    assert checked['single', True] > 100


def test_proportions_and_types_like_grefcoco(tmp_path):
    counts = generate_grefshapes(str(tmp_path), seed=0, train=120, val=0,
                                 test=0, size=64, progress=False)
    c = counts['train']
    total = sum(c.values())
    # gRefCOCO: 59.7 % single, 28.8 % multi, 11.6 % none
    assert abs(100 * c['multi'] / total - 28.8) < 1.0
    assert abs(100 * c['none'] / total - 11.6) < 1.0
    refs = json.loads((tmp_path / 'grefs(unc).json').read_text())
    types = Counter((s['kind'], s['type']) for r in refs
                    for s in r['sentences'])
    assert {t for k, t in types if k == 'multi'} == set(MULTI_TYPES)
    assert {t for k, t in types if k == 'none'} >= set(NONE_TYPES) - {'size'}
    assert {t for k, t in types if k == 'single'} == {
        'colour', 'shape', 'colour_shape', 'position', 'size'}
    # the words alone do not give a no-target sentence away: each is also
    # written as a single-target sentence of another image
    single = {s['sent'] for r in refs for s in r['sentences']
              if s['kind'] == 'single'}
    none = [s['sent'] for r in refs for s in r['sentences']
            if s['kind'] == 'none']
    assert all(s in single for s in none)


def test_dataset_reads_union_and_empty_masks(grefshapes):
    init_default_scope('mmseg')
    inst, _, anns = _load(grefshapes)
    ds = GReferDataset(
        data_root=str(grefshapes), ann_file='instances.json',
        split_file='grefs(unc).json', split='val',
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='risam.LoadReferAnnotations')])
    by_id = {a['id']: a for a in inst['annotations']}
    seen = Counter()
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        kind = 'none' if info['no_target'] else (
            'multi' if len(info['ann_ids']) > 1 else 'single')
        if seen[kind] >= 3:
            continue
        seen[kind] += 1
        out = ds[i]
        union = np.zeros((96, 96), bool)
        for a in info['ann_ids']:
            rle = mask_utils.merge(mask_utils.frPyObjects(
                by_id[a]['segmentation'], 96, 96))
            union |= mask_utils.decode(rle).astype(bool)
        assert np.array_equal(out['gt_seg_map'].astype(bool), union)
        assert out['gt_seg_map'].any() == (kind != 'none')
        assert out['no_target'] == (kind == 'none')
    assert seen == {'single': 3, 'multi': 3, 'none': 3}
