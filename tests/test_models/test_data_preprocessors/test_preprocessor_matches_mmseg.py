"""RISAMDataPreProcessor gives mmseg's SegDataPreProcessor's batch, while
copying without blocking and flipping BGR on the device."""
import copy

import pytest
import torch
from mmengine.structures import PixelData
from mmseg.models import SegDataPreProcessor
from mmseg.structures import SegDataSample

from projects.risam.models.data_preprocessors import RISAMDataPreProcessor

ARGS = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
            bgr_to_rgb=True, size=(48, 48), pad_val=0, seg_pad_val=255,
            test_cfg=dict(size=(48, 48)))


def _data(shapes):
    torch.manual_seed(0)
    samples = []
    for h, w in shapes:
        ds = SegDataSample(metainfo=dict(text='x', img_shape=(h, w),
                                         ori_shape=(h, w)))
        ds.gt_sem_seg = PixelData(
            data=torch.randint(0, 2, (1, h, w), dtype=torch.uint8))
        samples.append(ds)
    return dict(inputs=[torch.randint(0, 256, (3, h, w), dtype=torch.uint8)
                        for h, w in shapes], data_samples=samples)


@pytest.mark.parametrize('training', [True, False])
@pytest.mark.parametrize('bgr_to_rgb', [True, False])
def test_same_batch_as_mmseg(training, bgr_to_rgb):
    args = dict(ARGS, bgr_to_rgb=bgr_to_rgb)
    shapes = [(40, 48), (48, 30)] if training else [(40, 48), (40, 48)]
    data = _data(shapes)
    ours = RISAMDataPreProcessor(**args)(copy.deepcopy(data), training)
    theirs = SegDataPreProcessor(**args)(copy.deepcopy(data), training)
    torch.testing.assert_close(ours['inputs'], theirs['inputs'], rtol=0, atol=0)
    for a, b in zip(ours['data_samples'], theirs['data_samples']):
        if training:
            assert torch.equal(a.gt_sem_seg.data, b.gt_sem_seg.data)
        assert a.metainfo['pad_shape'] == b.metainfo['pad_shape']
    # the channels were swapped (or not): red of pixel (0, 0) of image 0
    raw = data['inputs'][0][:, 0, 0].float()
    rgb = raw.flip(0) if bgr_to_rgb else raw
    want = (rgb - torch.tensor(ARGS['mean'])) / torch.tensor(ARGS['std'])
    torch.testing.assert_close(ours['inputs'][0, :, 0, 0], want)


def test_copies_without_blocking_by_default():
    assert RISAMDataPreProcessor(**ARGS)._non_blocking is True
    assert RISAMDataPreProcessor(**ARGS, non_blocking=False)._non_blocking \
        is False


def test_a_test_batch_of_two_sizes_without_test_size_is_one_line():
    pre = RISAMDataPreProcessor(**dict(ARGS, test_cfg=None))
    with pytest.raises(ValueError, match='differ in size'):
        pre(_data([(40, 48), (48, 30)]), False)
