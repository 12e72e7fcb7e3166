"""A refer-layout fixture: two images, multi-part polygons, RLE, all splits."""
import json
import pickle

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import pytest
from mmengine.registry import init_default_scope


@pytest.fixture(autouse=True)
def _mmseg_scope():
    """Pipelines name mmseg/mmcv transforms, as in a config with
    ``default_scope='mmseg'``."""
    init_default_scope('mmseg')


def _uncompressed_rle(mask: np.ndarray) -> dict:
    """Column-major run lengths starting with zeros (COCO iscrowd format)."""
    flat = mask.flatten(order='F')
    counts, prev, run = [], 0, 0
    for v in flat:
        if v != prev:
            counts.append(run)
            prev, run = v, 0
        run += 1
    counts.append(run)
    return dict(counts=counts, size=list(mask.shape))


def _sent(sent_id, sent, raw=None):
    return dict(sent_id=sent_id, sent=sent, raw=raw or sent.upper(),
                tokens=sent.split())


@pytest.fixture
def refer_root(tmp_path):
    """Write ``tmp_path/{refcoco/instances.json, refs(unc).p/.json, images}``.

    Returns (root, refs, instances).
    """
    rng = np.random.default_rng(0)
    (tmp_path / 'images').mkdir()
    (tmp_path / 'refcoco').mkdir()
    sizes = {1: (30, 40), 2: (32, 24)}  # image_id: (h, w)
    images = []
    for image_id, (h, w) in sizes.items():
        name = f'img_{image_id}.png'
        cv2.imwrite(str(tmp_path / 'images' / name),
                    rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
        images.append(dict(id=image_id, file_name=name, height=h, width=w))
    crowd = np.zeros((30, 40), np.uint8)
    crowd[5:12, 20:33] = 1
    crowd[20:25, 2:6] = 1
    compressed = mask_utils.encode(
        np.asfortranarray((rng.random((32, 24)) > 0.7).astype(np.uint8)))
    compressed['counts'] = compressed['counts'].decode()
    anns = [
        # two disjoint parts
        dict(id=11, image_id=1, category_id=1, iscrowd=0,
             segmentation=[[2.5, 3, 15, 3.5, 9, 14], [20, 18, 38.5, 19,
                                                       30, 29, 21, 27]]),
        dict(id=12, image_id=1, category_id=1, iscrowd=1,
             segmentation=_uncompressed_rle(crowd)),
        dict(id=21, image_id=2, category_id=2, iscrowd=1,
             segmentation=compressed),
        dict(id=22, image_id=2, category_id=2, iscrowd=0,
             segmentation=[[1, 1, 20, 2, 22, 30, 3, 28]]),
    ]
    refs = [
        dict(ref_id=1, ann_id=11, image_id=1, category_id=1, split='train',
             sentences=[_sent(101, 'the left cat'), _sent(102, 'cat')]),
        dict(ref_id=2, ann_id=12, image_id=1, category_id=1, split='val',
             sentences=[_sent(201, 'a crowd of people'),
                        _sent(202, 'people at   the top', 'People at the top'),
                        _sent(203, 'crowd')]),
        dict(ref_id=3, ann_id=21, image_id=2, category_id=2, split='testA',
             sentences=[_sent(301, 'noise')]),
        dict(ref_id=4, ann_id=22, image_id=2, category_id=2, split='testB',
             sentences=[_sent(401, 'big box'), _sent(402, 'the box')]),
        dict(ref_id=5, ann_id=22, image_id=2, category_id=2, split='test',
             sentences=[_sent(501, 'box in the test split')]),
        dict(ref_id=6, ann_id=11, image_id=1, category_id=1, split='val',
             sentences=[_sent(601, 'two triangles')]),
    ]
    for r in refs:
        r['sent_ids'] = [s['sent_id'] for s in r['sentences']]
    instances = dict(images=images, annotations=anns,
                     categories=[dict(id=1, name='a'), dict(id=2, name='b')])
    (tmp_path / 'refcoco' / 'instances.json').write_text(
        json.dumps(instances))
    with open(tmp_path / 'refcoco' / 'refs(unc).p', 'wb') as f:
        pickle.dump(refs, f, protocol=2)
    (tmp_path / 'refcoco' / 'refs(unc).json').write_text(json.dumps(refs))
    return tmp_path, refs, instances


def expected_mask(segm, h, w) -> np.ndarray:
    """pycocotools' own decoding, independent of the code under test."""
    if isinstance(segm, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(segm, h, w))
    elif isinstance(segm['counts'], list):
        rle = mask_utils.frPyObjects(segm, h, w)
    else:
        rle = segm
    return mask_utils.decode(rle)


@pytest.fixture
def coco_decode():
    """The reference decoder, as a fixture (conftest is not importable)."""
    return expected_mask
