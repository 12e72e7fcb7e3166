"""Annotation and image validation: nothing becomes an empty target
silently, and a bad file is named in one line."""
import json
import logging
import pickle

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import pytest
from mmengine.logging import MMLogger

from projects.risam.datasets import GReferDataset, PhraseCutDataset, ReferDataset, ReferFormatError
from projects.risam.datasets.validation import image_problem, segmentation_problem

LOAD = [dict(type='LoadImageFromFile'), dict(type='risam.LoadReferAnnotations')]

# image 1 of the fixture is 30 x 40 (h x w)
_small = mask_utils.encode(np.asfortranarray(np.ones((10, 10), np.uint8)))
_small['counts'] = _small['counts'].decode()
BAD_ANNS = {  # ann id: (segmentation, kind in the error)
    31: ([[1, 1, 5, 5]], 'polygon with fewer than 3 points'),
    32: ([], 'empty polygon'),
    33: ([[1, 1, 10, 10, 20, 20]], 'zero-area polygon'),
    34: ([[100, 100, 120, 100, 110, 120]], 'polygon outside the image'),
    35: (_small, 'RLE size mismatch'),
}


def _sent(sent_id):
    return dict(sent_id=sent_id, sent=f'sentence {sent_id}', raw='x',
                tokens=[])


def _add_bad(root, refs, instances, kinds):
    """Add one 'val' ref per bad kind (2 sentences each) to the fixture."""
    bad_refs = []
    for ann_id in [k for k in kinds if isinstance(k, int)]:
        instances['annotations'].append(
            dict(id=ann_id, image_id=1, category_id=1, iscrowd=0,
                 segmentation=BAD_ANNS[ann_id][0]))
        bad_refs.append(dict(ref_id=ann_id * 10, ann_id=ann_id, image_id=1,
                             category_id=1, split='val',
                             sentences=[_sent(ann_id * 100),
                                        _sent(ann_id * 100 + 1)]))
    if 'no_target' in kinds:
        bad_refs.append(dict(ref_id=900, ann_id=[], image_id=1,
                             category_id=1, split='val',
                             sentences=[_sent(9000)]))
    if 'null_sentences' in kinds:
        bad_refs.append(dict(ref_id=901, ann_id=11, image_id=1,
                             category_id=1, split='val', sentences=None))
    (root / 'refcoco' / 'instances.json').write_text(json.dumps(instances))
    with open(root / 'refcoco' / 'refs(unc).p', 'wb') as f:
        pickle.dump(refs + bad_refs, f, protocol=2)
    return bad_refs


def _build(root, **kwargs):
    return ReferDataset(data_root=str(root),
                        ann_file='refcoco/instances.json',
                        split_file='refcoco/refs(unc).p',
                        data_prefix=dict(img_path='images'), split='val',
                        pipeline=kwargs.pop('pipeline', LOAD), **kwargs)


@pytest.mark.parametrize('ann_id', sorted(BAD_ANNS))
def test_each_bad_annotation_is_an_error_naming_it(refer_root, ann_id):
    root, refs, instances = refer_root
    _add_bad(root, refs, instances, [ann_id])
    with pytest.raises(ReferFormatError) as e:
        _build(root)
    msg = str(e.value)
    assert msg.startswith(f'{root}/refcoco/instances.json '
                          f'[ref_id={ann_id * 10} ann_id={ann_id}]: '
                          f'{BAD_ANNS[ann_id][1]}')
    assert '\n' not in msg


def test_ref_without_target_and_null_sentences(refer_root):
    root, refs, instances = refer_root
    _add_bad(root, refs, instances, ['no_target'])
    with pytest.raises(ReferFormatError,
                       match=r'refs\(unc\).p \[ref_id=900\]: ref without '
                       r'target: ann_id is \[\]'):
        _build(root)
    _add_bad(root, refs, instances, ['null_sentences'])
    with pytest.raises(ReferFormatError,
                       match=r'refs\(unc\).p \[ref_id=901\]: no sentences: '
                       '"sentences" is null'):
        _build(root)


def test_skip_invalid_drops_exactly_the_bad_ones(refer_root):
    root, refs, instances = refer_root
    good = _build(root)
    kinds = [*BAD_ANNS, 'no_target', 'null_sentences']
    bad_refs = _add_bad(root, refs, instances, kinds)
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        ds = _build(root, skip_invalid=True)
    finally:
        logger.removeHandler(handler)
    n_bad = sum(len(r['sentences'] or []) for r in bad_refs)
    assert n_bad == 11
    assert len(ds) == len(good) == 4
    assert [ds.get_data_info(i)['sent_id'] for i in range(len(ds))] == \
        [good.get_data_info(i)['sent_id'] for i in range(len(good))]
    for i in range(len(ds)):
        assert ds[i]['gt_seg_map'].sum() > 0
    summary = [r.getMessage() for r in records if 'skipped' in
               r.getMessage()]
    assert len(summary) == 1 and '\n' not in summary[0]
    assert summary[0] == (
        'ReferDataset: skipped 11 invalid samples (1 polygon with fewer than'
        ' 3 points, 1 empty polygon, 1 zero-area polygon, 1 polygon outside '
        'the image, 1 RLE size mismatch, 1 ref without target, 1 no '
        'sentences)')
    assert {r['kind'] for r in ds.skipped} >= {'empty polygon',
                                              'polygon outside the image'}
    assert sum(r['samples'] for r in ds.skipped) == n_bad


def test_grefcoco_keeps_only_real_no_target_refs(refer_root):
    root, _, instances = refer_root
    instances['annotations'].append(
        dict(id=33, image_id=1, category_id=1, iscrowd=0,
             segmentation=BAD_ANNS[33][0]))
    (root / 'grefcoco').mkdir()
    (root / 'grefcoco' / 'instances.json').write_text(json.dumps(instances))
    grefs = [
        dict(ref_id=1, ann_id=[-1], image_id=1, split='val',
             sentences=[_sent(1)]),
        dict(ref_id=2, ann_id=[11, 33], image_id=1, split='val',
             sentences=[_sent(2)]),
        dict(ref_id=3, ann_id=[], image_id=1, split='val',
             sentences=[_sent(3)]),
        dict(ref_id=4, ann_id=[11, 12], image_id=1, split='val',
             sentences=[_sent(4)]),
    ]
    (root / 'grefcoco' / 'grefs(unc).json').write_text(json.dumps(grefs))
    kwargs = dict(data_root=str(root), data_prefix=dict(img_path='images'),
                  split='val', pipeline=LOAD)
    with pytest.raises(ReferFormatError,
                       match=r'\[ref_id=2 ann_id=33\]: zero-area polygon'):
        GReferDataset(**kwargs)
    ds = GReferDataset(skip_invalid=True, **kwargs)
    assert [ds.get_data_info(i)['ref_id'] for i in range(len(ds))] == [1, 4]
    samples = [ds[i] for i in range(len(ds))]
    assert samples[0]['no_target'] and samples[0]['gt_seg_map'].sum() == 0
    assert not samples[1]['no_target'] and samples[1]['gt_seg_map'].sum() > 0


def test_phrasecut_names_the_phrase_and_bad_polygons(refer_root):
    root = refer_root[0]
    (root / 'images' / 'img_1.png').rename(root / 'images' / '7.png')
    good = [[[1, 1], [12, 1], [6, 9]]]
    tasks = [dict(task_id='7__1', image_id=7, phrase='tiles', ann_ids=[5, 6],
                  Polygons=[good, [[[3, 3], [9, 9]]]])]
    (root / 'refer_test.json').write_text(json.dumps(tasks))
    kwargs = dict(data_root=str(root), img_ext='.png', pipeline=LOAD)
    with pytest.raises(ReferFormatError,
                       match=r'\[ref_id=7__1 ann_id=6\]: polygon with fewer '
                       'than 3 points'):
        PhraseCutDataset(**kwargs)
    tasks[0]['Polygons'] = [good]
    tasks[0]['phrase'] = None
    (root / 'refer_test.json').write_text(json.dumps(tasks))
    with pytest.raises(ReferFormatError,
                       match="empty sentence under key 'phrase'"):
        PhraseCutDataset(**kwargs)


def test_segmentation_rules_against_pycocotools(refer_root):
    _, _, instances = refer_root
    sizes = {i['id']: (i['height'], i['width']) for i in instances['images']}
    for ann in instances['annotations']:  # the fixture's good ones
        h, w = sizes[ann['image_id']]
        assert segmentation_problem(ann['segmentation'], h, w) is None
    for segm, kind in BAD_ANNS.values():
        assert segmentation_problem(segm, 30, 40).startswith(kind)
    # a triangle half outside the image still has pixels inside: valid
    assert segmentation_problem([[-10, -10, 10, 0, 0, 10]], 30, 40) is None
    # a sliver thinner than a pixel that pycocotools rasterises to nothing
    sliver = [[5, 5, 25, 5.2, 5, 5.1]]
    area = mask_utils.area(mask_utils.frPyObjects(sliver, 30, 40))[0]
    assert (area == 0) == (segmentation_problem(sliver, 30, 40) is not None)
    crowd = dict(counts=[10, 5], size=[3, 5])
    assert segmentation_problem(crowd, 3, 5) is None
    assert segmentation_problem(dict(counts=[10, 4], size=[3, 5]), 3, 5) \
        .startswith('malformed RLE')
    assert segmentation_problem(dict(counts=[15], size=[3, 5]), 3, 5) \
        .startswith('empty RLE')


def test_truncated_jpeg_is_one_line_naming_the_file(refer_root, tmp_path):
    root = refer_root[0]
    image = root / 'images' / 'img_1.png'
    data = cv2.imencode('.jpg', cv2.imread(str(image)))[1].tobytes()
    assert image_problem(str(image)) is None
    image.write_bytes(data[:len(data) // 2])
    assert image_problem(str(image)).startswith('truncated image')
    assert image_problem(str(image), decode=False).startswith(
        'truncated image: the JPEG ends')
    ds = ReferDataset(data_root=str(root), ann_file='refcoco/instances.json',
                      split_file='refcoco/refs(unc).p', split='train',
                      data_prefix=dict(img_path='images'), pipeline=LOAD)
    with pytest.raises(ReferFormatError) as e:
        ds[0]
    msg = str(e.value)
    assert msg.startswith(f'{image} [ref_id=1 sent_id=101]: truncated image')
    assert '\n' not in msg
    (tmp_path / 'x.png').write_bytes(b'')
    assert image_problem(str(tmp_path / 'x.png')) == \
        'unreadable image: empty file'
    (tmp_path / 'y.png').write_bytes(b'not an image at all')
    assert image_problem(str(tmp_path / 'y.png')).startswith(
        'unreadable image')
    assert image_problem(str(tmp_path / 'z.png')) == \
        'missing image: file not found'
