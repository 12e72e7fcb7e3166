"""RISAMDataPreProcessor: which samples show one image (``same_image_as``),
and test-time padding of differently-sized images to one size with the raw
value that normalises to ``pad_val``."""
import torch
from mmseg.structures import SegDataSample

from projects.risam.models.data_preprocessors.risam_data_preprocessor import (
    RISAMDataPreProcessor,
    same_image_as,
)


def test_same_image_needs_the_key_and_equal_pixels():
    a = torch.zeros(3, 2, 2)
    b = torch.ones(3, 2, 2)
    metas = [dict(img_path='x.png'), dict(img_path='x.png'),
             dict(img_path='y.png'), dict(img_path='x.png'), dict()]
    # 3: same key as 0 but other pixels (another augmentation) -> itself
    assert same_image_as([a, a, a, b, a], metas) == [0, 0, 2, 3, None]
    # img_id comes before img_path
    assert same_image_as([a, a], [dict(img_id=1, img_path='p'),
                                  dict(img_id=1, img_path='q')]) == [0, 0]


def _pre():
    return RISAMDataPreProcessor(
        mean=[10.0, 20.0, 30.0], std=[2.0, 4.0, 5.0], bgr_to_rgb=True,
        pad_val=0, seg_pad_val=255, test_cfg=dict(size=(4, 4)))


def test_test_batch_of_two_sizes_is_padded_like_one_image():
    torch.manual_seed(0)
    small = torch.randint(0, 255, (3, 2, 3), dtype=torch.uint8)
    large = torch.randint(0, 255, (3, 4, 4), dtype=torch.uint8)
    samples = [SegDataSample(metainfo=dict(img_path=p))
               for p in ('s.png', 'l.png')]
    out = _pre()(dict(inputs=[small, large], data_samples=samples))
    inputs = out['inputs']
    assert inputs.shape == (2, 3, 4, 4)
    # pad_val 0 after normalisation: the padding is zero in every channel
    assert (inputs[0, :, 2:, :] == 0).all() and (inputs[0, :, :, 3:] == 0).all()
    # the image itself: BGR -> RGB, then (x - mean) / std
    rgb = small.flip(0).float()
    mean = torch.tensor([10.0, 20.0, 30.0]).view(3, 1, 1)
    std = torch.tensor([2.0, 4.0, 5.0]).view(3, 1, 1)
    torch.testing.assert_close(inputs[0, :, :2, :3], (rgb - mean) / std)
    assert [s.same_image_as for s in out['data_samples']] == [0, 1]


def test_pad_raw_fill_is_the_bgr_mean_for_pad_val_zero():
    pre = _pre()
    out = pre._pad_raw(torch.zeros(3, 1, 1), (2, 2))
    # raw BGR value that normalises to 0 is the mean, flipped to BGR
    assert out[:, 1, 1].tolist() == [30.0, 20.0, 10.0]
    assert out[:, 0, 0].tolist() == [0.0, 0.0, 0.0]
