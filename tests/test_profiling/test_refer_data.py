"""projects.risam.profiling.refer_data: COCO-sized refer data on disk."""
import cv2
import numpy as np
import pycocotools.mask as mask_utils
import pytest
from mmengine.config import Config

from projects.risam.datasets.refer_io import load_json, load_plain_pickle
from projects.risam.profiling.refer_data import (
    COCO_SIZES,
    prepare_refer_data,
    write_coco_sized_refer,
)


def test_coco_sized_refer_data(tmp_path):
    """Images at COCO sizes, polygons scaled with them, one sentence per
    train image, sentences up to the word limit, in the config's files."""
    counts = write_coco_sized_refer(
        str(tmp_path), ann_file='refcoco/instances.json',
        split_file='refcoco/refs(unc).p', img_prefix='images/train2014',
        max_words=17, splits=dict(train='train', val='val'),
        train_images=4, val_images=1)
    inst = load_json(str(tmp_path / 'refcoco/instances.json'))
    refs = load_plain_pickle(str(tmp_path / 'refcoco/refs(unc).p'))
    sizes = [(im['width'], im['height']) for im in inst['images']]
    assert sizes == [(640, 480), (427, 640), (640, 480), (427, 640), (640,
                                                                     480)]
    for im in inst['images']:
        img = cv2.imread(str(tmp_path / 'images/train2014' / im['file_name']))
        assert img.shape[:2] == (im['height'], im['width'])
    train = [r for r in refs if r['split'] == 'train']
    assert len(train) == 4 and len({r['image_id'] for r in train}) == 4
    assert all(len(r['sentences']) == 1 for r in train)
    lengths = [len(s['sent'].split()) for r in refs for s in r['sentences']]
    assert max(lengths) == 17 and min(lengths) < 17
    assert counts == dict(train=4, val=sum(
        len(r['sentences']) for r in refs if r['split'] == 'val'))
    # a 640 x 640 RefShapes polygon scaled by (w/640, h/640): its area
    # scales by w*h/640^2 (up to rasterisation)
    ann = inst['annotations'][0]
    im = inst['images'][0]
    xy = np.asarray(ann['segmentation'][0]).reshape(-1, 2)
    shoelace = 0.5 * abs(np.dot(xy[:, 0], np.roll(xy[:, 1], 1)) -
                         np.dot(xy[:, 1], np.roll(xy[:, 0], 1)))
    assert ann['area'] == pytest.approx(shoelace, rel=0.1)
    rle = mask_utils.frPyObjects([ann['segmentation'][0]], im['height'],
                                 im['width'])
    assert int(mask_utils.area(mask_utils.merge(rle))) == ann['area']


def test_prepare_points_every_loader_at_the_data(tmp_path, tiny_config):
    """Generated data lands in the config's files and every loader reads
    it; a given root is used as it is; a missing one is one line."""
    cfg = Config.fromfile(tiny_config)
    info = prepare_refer_data(cfg, None, str(tmp_path / 'gen'), 3, 4)
    assert info['generated'] and info['max_words'] == 5
    assert info['image_sizes'] == [list(s) for s in COCO_SIZES]
    assert info['sentences']['train'] == 3 and info['sentences']['val'] >= 4
    for loader in ('train', 'val', 'test'):
        assert cfg[f'{loader}_dataloader'].dataset.data_root == str(
            tmp_path / 'gen')
    assert (tmp_path / 'gen' / 'instances.json').is_file()
    assert prepare_refer_data(cfg, str(tmp_path), 'unused', 1, 1) == dict(
        generated=False, root=str(tmp_path))
    assert cfg.val_dataloader.dataset.data_root == str(tmp_path)
    with pytest.raises(NotADirectoryError, match='--data-root .* is not a'):
        prepare_refer_data(cfg, str(tmp_path / 'nope'), 'unused', 1, 1)
    cfg.train_dataloader.dataset.type = 'risam.GReferDataset'
    with pytest.raises(FileNotFoundError, match='refer-format data only'):
        prepare_refer_data(cfg, None, str(tmp_path / 'g'), 1, 1)
