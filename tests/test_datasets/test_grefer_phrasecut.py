import json

import numpy as np
import pytest

from projects.risam.datasets import GReferDataset, PhraseCutDataset, ReferDataset, ReferFormatError

LOAD = [dict(type='LoadImageFromFile'), dict(type='risam.LoadReferAnnotations')]


def test_grefcoco_no_target_single_and_union(refer_root, coco_decode):
    root, _, instances = refer_root
    (root / 'grefcoco').mkdir()
    (root / 'grefcoco' / 'instances.json').write_text(json.dumps(instances))
    grefs = [
        dict(ref_id=1, ann_id=[-1], category_id=[-1], image_id=1,
             split='val', sentences=[dict(sent_id=1, sent='the giraffe')]),
        dict(ref_id=2, ann_id=[11, 12], category_id=[1, 1], image_id=1,
             split='val', sentences=[dict(sent_id=2, sent='both')]),
        dict(ref_id=3, ann_id=22, category_id=2, image_id=2, split='val',
             sentences=[dict(sent_id=3, sent='box')]),
    ]
    (root / 'grefcoco' / 'grefs(unc).json').write_text(json.dumps(grefs))
    ds = GReferDataset(data_root=str(root), data_prefix=dict(
        img_path='images'), split='val', pipeline=LOAD)
    anns = {a['id']: a['segmentation'] for a in instances['annotations']}
    assert len(ds) == 3
    none, both, box = ds[0], ds[1], ds[2]
    assert none['no_target'] and none['ann_ids'] == []
    assert none['gt_seg_map'].shape == (30, 40)
    assert none['gt_seg_map'].sum() == 0
    union = coco_decode(anns[11], 30, 40) | coco_decode(anns[12], 30, 40)
    assert not both['no_target']
    np.testing.assert_array_equal(both['gt_seg_map'], union)
    assert both['gt_seg_map'].sum() > coco_decode(anns[11], 30, 40).sum()
    np.testing.assert_array_equal(box['gt_seg_map'],
                                  coco_decode(anns[22], 32, 24))
    # the same refs are refused by the single-target dataset
    with pytest.raises(ReferFormatError, match=r'\[ref_id=1\].*no target'):
        ReferDataset(data_root=str(root), ann_file='grefcoco/instances.json',
                     split_file='grefcoco/grefs(unc).json', split='val')


def test_phrasecut_union_of_instance_polygons(refer_root, coco_decode):
    root = refer_root[0]
    # image 1 is 30 x 40; PhraseCut names images <image_id>.jpg
    (root / 'images' / 'img_1.png').rename(root / 'images' / '7.png')
    inst_a = [[[1, 1], [12, 1], [6, 9]], [[20, 2], [30, 2], [30, 8]]]
    inst_b = [[[3, 20], [15, 20], [15, 28], [3, 28]]]
    tasks = [
        dict(task_id='7__1', image_id=7, phrase='red   tiles',
             ann_ids=[5, 6], instance_boxes=[], Polygons=[inst_a, inst_b]),
        dict(task_id='7__2', image_id=7, phrase='  ', ann_ids=[],
             instance_boxes=[], Polygons=[inst_b]),
    ]
    (root / 'refer_test.json').write_text(json.dumps(tasks))
    with pytest.raises(ReferFormatError,
                       match=r'refer_test.json \[ref_id=7__2\]: empty'):
        PhraseCutDataset(data_root=str(root), img_ext='.png', pipeline=LOAD)
    ds = PhraseCutDataset(data_root=str(root), img_ext='.png', pipeline=LOAD,
                          skip_invalid=True)
    assert len(ds) == 1
    out = ds[0]
    assert out['text'] == 'red tiles' and out['sent_id'] == '7__1'
    flat = [[c for xy in p for c in xy] for inst in (inst_a, inst_b)
            for p in inst]
    want = np.zeros((30, 40), np.uint8)
    for poly in flat:
        want |= coco_decode([poly], 30, 40)
    np.testing.assert_array_equal(out['gt_seg_map'], want)
    assert out['gt_seg_map'][24, 8] == 1 and out['gt_seg_map'][3, 6] == 1
