"""A refer-format dataset at COCO's image sizes, written where a config
expects its data (the dry run's data when no dataset is given).

RefShapes (:func:`~projects.risam.datasets.refshapes.generate_refshapes`) is
drawn at 640 px, then every image is scaled to one of :data:`COCO_SIZES`
with its polygons, and sentences are lengthened to the config's word limit:
a step costs what a RefCOCO step costs.
"""
import json
import os
import os.path as osp
import pickle
import shutil
import tempfile
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np
import pycocotools.mask as mask_utils

from projects.risam.datasets.refer_io import load_json, load_plain_pickle
from projects.risam.datasets.refshapes import generate_refshapes

__all__ = ['COCO_SIZES', 'prepare_refer_data', 'write_coco_sized_refer']

#: COCO train2014's two commonest image sizes, (width, height).
COCO_SIZES: Tuple[Tuple[int, int], ...] = ((640, 480), (427, 640))
_FILLER = ('that is in this picture next to the other things on the left of '
           'the grey table under the window').split()


def _scale_image(image: np.ndarray, polys: List[List[float]], w: int,
                 h: int) -> Tuple[np.ndarray, List[List[float]]]:
    """Resize to ``w x h``; polygons are scaled with it (exactly linear)."""
    src_h, src_w = image.shape[:2]
    sx, sy = w / src_w, h / src_h
    out = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    scaled = []
    for poly in polys:
        xy = np.asarray(poly, float).reshape(-1, 2) * [sx, sy]
        scaled.append([round(float(v), 2) for v in xy.reshape(-1)])
    return out, scaled


def _lengthen(sentence: str, words: int) -> str:
    """``sentence`` padded with filler words to ``words`` words."""
    tokens = sentence.split()
    while len(tokens) < words:
        tokens.append(_FILLER[(len(tokens)) % len(_FILLER)])
    return ' '.join(tokens)


def _scale_images(src: str, img_dir: str, instances: dict) -> None:
    """Every image of ``src`` scaled into ``img_dir``; ``instances``'
    sizes, polygons, areas and boxes follow."""
    anns_of: Dict[int, List[dict]] = {}
    for ann in instances['annotations']:
        anns_of.setdefault(ann['image_id'], []).append(ann)
    for i, img in enumerate(instances['images']):
        w, h = COCO_SIZES[i % len(COCO_SIZES)]
        image = cv2.imread(osp.join(src, 'images', img['file_name']))
        anns = anns_of.get(img['id'], [])
        image, polys = _scale_image(
            image, [a['segmentation'][0] for a in anns], w, h)
        cv2.imwrite(osp.join(img_dir, img['file_name']), image)
        img.update(width=w, height=h)
        for ann, poly in zip(anns, polys):
            rle = mask_utils.merge(mask_utils.frPyObjects([poly], h, w))
            ann.update(segmentation=[poly], area=int(mask_utils.area(rle)),
                       bbox=[float(v) for v in mask_utils.toBbox(rle)])


def _select_sentences(refs: List[dict], splits: Dict[str, str],
                      max_words: int) -> Tuple[List[dict], Dict[str, int]]:
    """One sentence per train image, every val sentence, every other one
    lengthened to ``max_words``; splits renamed; and sentences per split."""
    kept, seen = [], set()
    for ref in refs:
        if ref['split'] == 'train':
            if ref['image_id'] in seen:
                continue
            seen.add(ref['image_id'])
            ref['sentences'] = ref['sentences'][:1]
            ref['sent_ids'] = ref['sent_ids'][:1]
        ref['split'] = splits.get(ref['split'], ref['split'])
        kept.append(ref)
    counts: Dict[str, int] = {}
    n = 0
    for ref in kept:
        for s in ref['sentences']:
            text = _lengthen(s['sent'], max_words) if n % 2 else s['sent']
            s.update(sent=text, raw=text, tokens=text.split())
            counts[ref['split']] = counts.get(ref['split'], 0) + 1
            n += 1
    return kept, counts


def write_coco_sized_refer(root: str, *, ann_file: str, split_file: str,
                           img_prefix: str, max_words: int,
                           splits: Dict[str, str], train_images: int,
                           val_images: int, seed: int = 0) -> Dict[str, int]:
    """A refer-format dataset at COCO image sizes, in the files a config
    names (relative to ``root``). Returns the number of sentences per split.

    Images are scaled to 640 x 480 or 427 x 640 (alternately) with their
    polygons. The train split keeps one sentence per image, so a batch
    encodes as many images as it has sentences (as a shuffled RefCOCO batch
    almost always does); val keeps every sentence (the val loader groups
    the sentences of an image). Every other sentence is lengthened to
    ``max_words`` words. ``splits`` renames RefShapes' ``train``/``val`` to
    the config's split names.
    """
    os.makedirs(root, exist_ok=True)
    src = tempfile.mkdtemp(prefix='refshapes_', dir=root)
    try:
        generate_refshapes(src, train=train_images, val=val_images, test=0,
                           seed=seed, size=640, progress=False)
        instances = load_json(osp.join(src, 'instances.json'))
        refs = load_plain_pickle(osp.join(src, 'refs(unc).p'))
        img_dir = osp.join(root, img_prefix)
        os.makedirs(img_dir, exist_ok=True)
        _scale_images(src, img_dir, instances)
        kept, counts = _select_sentences(refs, splits, max_words)
        for name in (ann_file, split_file):
            os.makedirs(osp.dirname(osp.join(root, name)), exist_ok=True)
        with open(osp.join(root, ann_file), 'w') as f:
            json.dump(instances, f)
        with open(osp.join(root, split_file), 'wb') as f:
            pickle.dump(kept, f, protocol=2)
        return counts
    finally:
        shutil.rmtree(src, ignore_errors=True)


def prepare_refer_data(cfg, data_root: Optional[str], root: str,
                       train_sentences: int, val_samples: int) -> dict:
    """Point every loader of ``cfg`` (changed in place) at ``data_root``,
    or, without one, write :func:`write_coco_sized_refer` data with
    ``train_sentences`` train and at least ``val_samples`` val sentences at
    ``root`` and point them there. Returns what the report says of it
    (``generated``, ``root``; for generated data ``image_sizes``,
    ``max_words`` and ``sentences`` per split)."""
    if data_root is not None:
        if not osp.isdir(data_root):
            raise NotADirectoryError(f'--data-root {data_root} is not a '
                                     'folder')
        for loader in ('train', 'val', 'test'):
            cfg[f'{loader}_dataloader'].dataset.data_root = data_root
        return dict(generated=False, root=data_root)
    ds = cfg.train_dataloader.dataset
    kind = str(ds.get('type', ''))
    if not kind.endswith('ReferDataset') or kind.endswith('GReferDataset'):
        raise FileNotFoundError(
            f'dry_run.py writes refer-format data only; '
            f'train_dataloader.dataset.type is {ds.get("type")!r}: give '
            '--data-root')
    val_ds = cfg.val_dataloader.dataset
    max_words = int(ds.get('max_words') or 17)
    # train: one sentence per image; val: >= 3 sentences per image
    counts = write_coco_sized_refer(
        root, ann_file=ds.ann_file, split_file=ds.split_file,
        img_prefix=ds.data_prefix['img_path'], max_words=max_words,
        splits=dict(train=ds.split, val=val_ds.split),
        train_images=train_sentences, val_images=-(-val_samples // 3))
    for split, need in ((ds.split, train_sentences),
                        (val_ds.split, val_samples)):
        if counts.get(split, 0) < need:  # never with RefShapes' density
            raise RuntimeError(f'generated {counts.get(split, 0)} sentences '
                               f'for {split}, need {need}')
    for loader in ('train', 'val', 'test'):
        cfg[f'{loader}_dataloader'].dataset.data_root = root
    return dict(generated=True, root=root,
                image_sizes=[list(s) for s in COCO_SIZES],
                max_words=max_words, sentences=counts)
