import pickle

import numpy as np
import pytest
from mmseg.registry import DATASETS

from projects.risam.datasets import ReferDataset, ReferFormatError

LOAD = [dict(type='LoadImageFromFile'), dict(type='risam.LoadReferAnnotations')]


def build(root, split, **kwargs):
    kwargs.setdefault('split_file', 'refcoco/refs(unc).p')
    return ReferDataset(
        data_root=str(root),
        ann_file='refcoco/instances.json',
        data_prefix=dict(img_path='images'),
        split=split,
        pipeline=kwargs.pop('pipeline', LOAD),
        **kwargs)


@pytest.mark.parametrize('split', ['train', 'val', 'testA', 'testB', 'test'])
def test_one_sample_per_sentence_with_pycocotools_masks(
        refer_root, coco_decode, split):
    root, refs, instances = refer_root
    anns = {a['id']: a for a in instances['annotations']}
    sizes = {i['id']: (i['height'], i['width']) for i in instances['images']}
    expected = [(r, s) for r in refs if r['split'] == split
                for s in r['sentences']]
    ds = build(root, split)
    assert len(ds) == len(expected)
    for i, (ref, sent) in enumerate(expected):
        out = ds[i]
        assert out['sent_id'] == sent['sent_id']
        assert out['ref_id'] == ref['ref_id']
        assert out['img_id'] == ref['image_id']
        assert out['ann_ids'] == [ref['ann_id']]
        assert out['text'] == ' '.join(sent['sent'].split())
        h, w = sizes[ref['image_id']]
        want = coco_decode(anns[ref['ann_id']]['segmentation'], h, w)
        assert want.sum() > 0
        assert out['gt_seg_map'].dtype == np.uint8
        np.testing.assert_array_equal(out['gt_seg_map'], want)
        assert out['img'].shape[:2] == (h, w)


def test_multi_part_polygon_has_both_parts(refer_root):
    out = build(refer_root[0], 'train')[0]
    mask = out['gt_seg_map']
    assert mask[5, 8] == 1 and mask[22, 28] == 1 and mask[15, 18] == 0


def test_registered_and_json_refs_equal_pickle(refer_root):
    root = refer_root[0]
    assert DATASETS.get('risam.ReferDataset') is ReferDataset
    a = build(root, 'val', pipeline=[])
    b = build(root, 'val', pipeline=[], split_file='refcoco/refs(unc).json')
    assert [a[i]['sent_id'] for i in range(len(a))] == [201, 202, 203, 601]
    assert [a[i] for i in range(len(a))] == [b[i] for i in range(len(b))]


def test_text_options(refer_root):
    root = refer_root[0]
    raw = build(root, 'val', pipeline=[], text_key='raw')
    assert raw[1]['text'] == 'People at the top'
    assert build(root, 'val', pipeline=[], max_words=2)[1]['text'] == \
        'people at'
    blind = build(root, 'val', pipeline=[], override_text='')
    assert [blind[i]['text'] for i in range(len(blind))] == [''] * 4
    with pytest.raises(ValueError, match='text_key'):
        build(root, 'val', text_key='tokens')


def test_group_by_image(refer_root):
    ds = build(refer_root[0], 'val', group_by_image=True)
    assert len(ds) == 1
    out = ds[0]
    assert out['sent_id'] == [201, 202, 203, 601]
    assert out['gt_seg_map'].shape == (4, 30, 40)
    single = build(refer_root[0], 'val')
    for i in range(4):
        np.testing.assert_array_equal(out['gt_seg_map'][i],
                                      single[i]['gt_seg_map'])


def _rewrite_refs(root, refs):
    with open(root / 'refcoco' / 'refs(unc).p', 'wb') as f:
        pickle.dump(refs, f, protocol=2)


def test_missing_annotation_raises_or_skips(refer_root, caplog):
    root, refs, _ = refer_root
    refs[1]['ann_id'] = 999
    _rewrite_refs(root, refs)
    with pytest.raises(ReferFormatError,
                       match=r'instances.json \[ref_id=2\].*999'):
        build(root, 'val')
    ds = build(root, 'val', skip_invalid=True)
    assert len(ds) == 1 and ds[0]['sent_id'] == 601


def test_empty_sentence_raises_or_skips(refer_root):
    root, refs, _ = refer_root
    refs[1]['sentences'][1]['sent'] = '  \t '
    _rewrite_refs(root, refs)
    with pytest.raises(ReferFormatError,
                       match=r'refs\(unc\).p \[ref_id=2 sent_id=202\]'):
        build(root, 'val')
    ds = build(root, 'val', skip_invalid=True, pipeline=[])
    assert [ds[i]['sent_id'] for i in range(len(ds))] == [201, 203, 601]


def test_unknown_split_and_split_by(refer_root):
    root = refer_root[0]
    with pytest.raises(ReferFormatError, match="unknown split 'dev'"):
        build(root, 'dev')
    with pytest.raises(ReferFormatError, match="unknown splitBy 'xyz'"):
        build(root, 'val', split_file='refcoco/refs(xyz).p')
    (root / 'refcoco' / 'refs(google).p').write_bytes(
        (root / 'refcoco' / 'refs(unc).p').read_bytes())
    with pytest.raises(ReferFormatError, match="no refs in split 'testC'"):
        build(root, 'testC', split_file='refcoco/refs(google).p')


def test_refs_file_not_a_list(refer_root):
    root = refer_root[0]
    with open(root / 'refcoco' / 'refs(unc).p', 'wb') as f:
        pickle.dump({'refs': []}, f)
    with pytest.raises(ReferFormatError,
                       match=r'refs\(unc\).p: expected a list of refs'):
        build(root, 'val')


class Evil:

    def __reduce__(self):
        return (print, ('pwned',))


def test_restricted_unpickler_refuses_globals(refer_root):
    root, refs, _ = refer_root
    refs[0]['payload'] = Evil()
    _rewrite_refs(root, refs)
    with pytest.raises(ReferFormatError,
                       match=r'refs\(unc\).p: refused to unpickle global'):
        build(root, 'val')


def test_missing_and_corrupt_image(refer_root):
    root = refer_root[0]
    (root / 'images' / 'img_2.png').unlink()
    ds = build(root, 'testB')
    with pytest.raises(ReferFormatError,
                       match=r'img_2.png \[ref_id=4 sent_id=401\]'):
        ds[0]
    with pytest.raises(ReferFormatError, match='no valid samples left'):
        build(root, 'testB', skip_invalid=True)
    assert len(build(root, 'testA')) == 1
    (root / 'images' / 'img_1.png').write_bytes(b'not a png')
    with pytest.raises(ReferFormatError,
                       match=r'img_1.png \[ref_id=1 sent_id=101\]'):
        build(root, 'train')[0]
