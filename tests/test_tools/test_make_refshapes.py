import json
import pickle
import subprocess
import sys
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
from mmengine.registry import init_default_scope

from projects.risam.datasets import ReferDataset, load_refs
from projects.risam.datasets.refshapes import generate_refshapes

SMALL = dict(train=12, val=4, test=6, size=96, progress=False)


def test_deterministic_refer_layout_every_object_targeted(tmp_path):
    a, b = tmp_path / 'a', tmp_path / 'b'
    counts = generate_refshapes(str(a), seed=3, **SMALL)
    generate_refshapes(str(b), seed=3, **SMALL)
    for name in ('instances.json', 'refs(unc).p'):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    generate_refshapes(str(b), seed=4, **SMALL)
    assert (a / 'instances.json').read_bytes() != \
        (b / 'instances.json').read_bytes()

    refs = load_refs(str(a / 'refs(unc).p'))  # restricted unpickler
    assert refs == pickle.loads((a / 'refs(unc).p').read_bytes())
    assert counts == dict(Counter(r['split'] for r in refs))
    per_image = Counter((r['split'], r['image_id']) for r in refs)
    n_images = Counter(split for split, _ in per_image)
    assert n_images == {'train': 12, 'val': 4, 'testA': 3, 'testB': 3}
    assert all(n >= 3 for n in per_image.values())
    assert all(per_image[k] <= 4 for k in per_image if k[0] == 'testA')
    assert all(per_image[k] == 5 for k in per_image if k[0] == 'testB')
    # every object is a target: one ref per annotation, each with sentences
    inst = json.loads((a / 'instances.json').read_text())
    assert sorted(r['ann_id'] for r in refs) == \
        sorted(x['id'] for x in inst['annotations'])
    assert all(r['sentences'] for r in refs)
    # expressions are unique within their image
    by_image = {}
    for r in refs:
        for s in r['sentences']:
            by_image.setdefault(r['image_id'], []).append(s['sent'])
    assert all(len(v) == len(set(v)) for v in by_image.values())
    types = {s['type'] for r in refs for s in r['sentences']}
    assert types == {'colour', 'shape', 'colour_shape', 'position', 'size'}


def test_dataset_reads_it_and_masks_match_the_drawing(tmp_path):
    init_default_scope('mmseg')
    generate_refshapes(str(tmp_path), seed=0, **SMALL)
    ds = ReferDataset(
        data_root=str(tmp_path), split='val',
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='risam.LoadReferAnnotations')])
    out = ds[0]
    assert out['expr_type'] in ('colour', 'shape', 'colour_shape',
                                'position', 'size')
    mask = out['gt_seg_map'].astype(bool)
    assert mask.sum() > 50
    # the shape's pixels are saturated, the background grey
    img = out['img'].astype(int)
    sat = img.max(-1) - img.min(-1)
    assert np.median(sat[mask]) > 100 and np.median(sat[~mask]) < 60


def test_cli(tmp_path):
    out = tmp_path / 'rs'
    subprocess.run([
        sys.executable,
        str(Path(__file__).parents[2] / 'tools' / 'dataset_converters' /
            'make_refshapes.py'),
        str(out), '--train', '3', '--val', '2', '--test', '2', '--seed', '1',
        '--size', '64'
    ], check=True, capture_output=True)
    assert (out / 'instances.json').is_file()
    assert cv2.imread(str(out / 'images' / 'refshapes_000001.png')).shape \
        == (64, 64, 3)


def test_cli_generalized_writes_the_grefcoco_layout(tmp_path):
    out = tmp_path / 'grs'
    proc = subprocess.run([
        sys.executable,
        str(Path(__file__).parents[2] / 'tools' / 'dataset_converters' /
            'make_refshapes.py'),
        str(out), '--generalized', '--train', '6', '--val', '2', '--test',
        '2', '--seed', '1', '--size', '64'
    ], check=True, capture_output=True, text=True)
    assert sorted(p.name for p in out.iterdir()) == [
        'grefs(unc).json', 'images', 'instances.json']
    refs = json.loads((out / 'grefs(unc).json').read_text())
    kinds = Counter(s['kind'] for r in refs for s in r['sentences'])
    assert f'train: {kinds_in(refs, "train")}' in proc.stdout
    assert set(kinds) == {'single', 'multi', 'none'}
    assert all(r['no_target'] == (r['ann_id'] == [-1]) for r in refs)


def kinds_in(refs, split):
    c = Counter(s['kind'] for r in refs if r['split'] == split
                for s in r['sentences'])
    return ', '.join(f'{c[k]} {k}' for k in ('single', 'multi', 'none'))
