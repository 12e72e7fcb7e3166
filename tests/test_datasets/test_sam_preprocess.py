"""SAM preprocessing through mmseg transforms + SegDataPreProcessor."""
import numpy as np
import pytest
import torch
from mmseg.datasets.transforms import Resize
from mmseg.models import SegDataPreProcessor
from segment_anything.utils.transforms import ResizeLongestSide

from projects.risam.datasets import ReferDataset

SAM_MEAN = [123.675, 116.28, 103.53]
SAM_STD = [58.395, 57.12, 57.375]


@pytest.mark.parametrize('hw', [(427, 640), (480, 640), (333, 500),
                                (640, 481), (375, 500), (1023, 7), (5, 3)])
@pytest.mark.parametrize('side', [1024, 128])
def test_resize_matches_sam_longest_side(hw, side):
    img = np.zeros((*hw, 3), np.uint8)
    out = Resize(scale=(side, side), keep_ratio=True)(dict(img=img))
    assert out['img'].shape[:2] == ResizeLongestSide.get_preprocess_shape(
        hw[0], hw[1], side)


def test_pipeline_keeps_text_and_gt_at_original_size(refer_root):
    root = refer_root[0]
    meta = ('img_path', 'ori_shape', 'img_shape', 'scale_factor', 'text',
            'sent_id', 'ref_id', 'img_id', 'expr_type', 'no_target')
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(64, 64), keep_ratio=True),
        dict(type='risam.LoadReferAnnotations'),
        dict(type='PackSegInputs', meta_keys=meta),
    ]
    ds = ReferDataset(data_root=str(root), ann_file='refcoco/instances.json',
                      split_file='refcoco/refs(unc).p', split='val',
                      data_prefix=dict(img_path='images'), pipeline=pipeline,
                      test_mode=True)
    out = ds[0]
    ds_meta = out['data_samples'].metainfo
    assert ds_meta['text'] == 'a crowd of people' and ds_meta['sent_id'] == 201
    assert ds_meta['ori_shape'] == (30, 40)
    assert ds_meta['img_shape'] == (48, 64)
    assert out['inputs'].shape == (3, 48, 64)
    assert out['data_samples'].gt_sem_seg.data.shape == (1, 30, 40)

    pre = SegDataPreProcessor(mean=SAM_MEAN, std=SAM_STD, bgr_to_rgb=True,
                              size=(64, 64), pad_val=0, seg_pad_val=255,
                              test_cfg=dict(size=(64, 64)))
    # eval mode pads only with test_cfg.size; gt stays at the original size
    batch = pre(dict(inputs=[out['inputs']], data_samples=[
        out['data_samples']]), training=False)
    assert batch['data_samples'][0].gt_sem_seg.data.shape == (1, 30, 40)
    x = batch['inputs'][0]
    assert x.shape == (3, 64, 64)
    rgb = out['inputs'].flip(0).float()
    want = (rgb - torch.tensor(SAM_MEAN)[:, None, None]) / torch.tensor(
        SAM_STD)[:, None, None]
    torch.testing.assert_close(x[:, :48, :64], want)  # top-left, unpadded
    assert (x[:, 48:, :] == 0).all()  # padded bottom/right with 0
