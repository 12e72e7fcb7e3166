"""Inference: logits -> padded input -> crop -> original size -> threshold.

``RISAM.postprocess_result`` (DESIGN §3: sigmoid, upsample to the original
image size, threshold 0.35) on logits whose bilinear resizes can be done by
hand, so the crop, the resize and the threshold are each checked by number;
the ``pad_shape`` / ``img_shape`` fallbacks, 3-value shapes, a strict
threshold and the default 0.35 that ``predict`` uses.
"""

import math

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from projects.risam.models import RISAM

# sigmoid(-0.4) = 0.4013: above the paper's 0.35, below 0.5
LOW = -0.4


def _postprocess(logits, meta, threshold=0.35):
    ds = SegDataSample(metainfo=meta)
    model = RISAM.__new__(RISAM)  # postprocess needs only the threshold
    model.threshold = threshold
    return RISAM.postprocess_result(model, logits, [ds])[0]


def test_crop_then_resize_by_hand():
    """1 x 2 logit columns (-5, 5) -> padded input 4 x 8 -> crop to the
    image (4 x 6) -> original 2 x 3.

    Bilinear 2 -> 8 (align_corners False): output x samples input
    x / 4 - 0.375, clamped: -5, -5, -3.75, -1.25, 1.25, 3.75, 5, 5.
    Crop 6 columns: -5, -5, -3.75, -1.25, 1.25, 3.75.
    6 -> 3 is an exact 2x: each output averages two columns:
    -5, -2.5, 2.5. Rows are constant all the way.
    """
    logits = torch.tensor([[[[-5.0, 5.0]]]])
    meta = dict(batch_input_shape=(4, 8), img_shape=(4, 6),
                ori_shape=(2, 3))
    out = _postprocess(logits, meta)
    want = torch.tensor([-5.0, -2.5, 2.5]).expand(2, 3)[None]
    torch.testing.assert_close(out.seg_logits.data, want)
    assert out.pred_sem_seg.data.tolist() == [[[0, 0, 1], [0, 0, 1]]]
    assert out.pred_sem_seg.data.dtype == torch.uint8


def test_threshold_is_on_the_probability():
    """A logit of -0.4 (p = 0.401) is foreground at threshold 0.35 and
    background at 0.5; a logit of exactly logit(0.35) is not above it."""
    at = math.log(0.35 / 0.65)
    logits = torch.tensor([[[[LOW, LOW], [at - 1e-3, 5.0]]]])
    meta = dict(batch_input_shape=(2, 2), img_shape=(2, 2),
                ori_shape=(2, 2))
    assert torch.sigmoid(torch.tensor(LOW)).item() == pytest.approx(
        0.4013, abs=1e-4)
    out = _postprocess(logits.clone(), meta)
    assert out.pred_sem_seg.data.tolist() == [[[1, 1], [0, 1]]]
    out = _postprocess(logits.clone(), meta, threshold=0.5)
    assert out.pred_sem_seg.data.tolist() == [[[0, 0], [0, 1]]]


def test_upscale_to_a_larger_original():
    """Padded 2 x 2 input equal to the image, original 4 x 4: a 2x bilinear
    upsample of (-1, 1) columns gives -1, -0.5, 0.5, 1 per row."""
    logits = torch.tensor([[[[-1.0, 1.0], [-1.0, 1.0]]]])
    meta = dict(batch_input_shape=(2, 2), img_shape=(2, 2),
                ori_shape=(4, 4))
    out = _postprocess(logits, meta, threshold=0.45)
    row = torch.tensor([-1.0, -0.5, 0.5, 1.0])
    torch.testing.assert_close(out.seg_logits.data, row.expand(4, 4)[None])
    # sigmoid(-0.5) = 0.378 < 0.45 < sigmoid(0.5)
    assert out.pred_sem_seg.data[0, 0].tolist() == [0, 0, 1, 1]
    assert isinstance(out.pred_sem_seg, PixelData)


TINY = 'configs/risam/_base_/models/risam_tiny.py'


def _post(logits, meta):
    model = RISAM.__new__(RISAM)  # postprocess needs only the threshold
    model.threshold = 0.35
    ds = SegDataSample(metainfo=meta)
    return RISAM.postprocess_result(model, logits, [ds])[0]


def _tiny_cfg():
    init_default_scope('mmseg')
    return Config.fromfile(TINY).model


def test_postprocess_reads_pad_shape_and_img_shape_fallbacks():
    """Logits already at the padded size, so every resize is the identity
    and the result is the crop: by hand, ``logits[:img_h, :img_w]``."""
    logits = (torch.arange(16.0) - 7.5).view(1, 1, 4, 4)
    # mmcv's Pad writes a 3-value pad_shape (H, W, C); some pipelines a
    # 3-value img_shape; no batch_input_shape, no ori_shape
    out = _post(logits, dict(pad_shape=(4, 4, 3), img_shape=(3, 2, 3)))
    assert torch.equal(out.seg_logits.data, logits[0, :, :3, :2])
    assert out.pred_sem_seg.data.tolist() == [[[0, 0], [0, 0], [1, 1]]]
    # img_shape only: it is also the padded size
    narrow = logits[..., :3]
    out = _post(narrow, dict(img_shape=(4, 3)))
    assert torch.equal(out.seg_logits.data, narrow[0])
    # pad_shape only: nothing to crop
    out = _post(logits, dict(pad_shape=(4, 4, 3)))
    assert torch.equal(out.seg_logits.data, logits[0])
    with pytest.raises(KeyError) as err:
        _post(logits, dict(ori_shape=(4, 4)))
    assert err.value.args[0] == ('sample 0: no batch_input_shape, pad_shape '
                                 'or img_shape in its metainfo')


def test_threshold_is_strict_and_ori_shape_may_have_channels():
    # sigmoid(0) = 0.5 exactly: not above a 0.5 threshold
    logits = torch.tensor([[[[0.0, 0.1], [-0.1, 0.0]]]])
    model = RISAM.__new__(RISAM)
    model.threshold = 0.5
    ds = SegDataSample(metainfo=dict(img_shape=(2, 2), ori_shape=(2, 2, 3)))
    out = RISAM.postprocess_result(model, logits, [ds])[0]
    assert out.pred_sem_seg.data.tolist() == [[[0, 1], [0, 0]]]


def test_default_threshold_is_the_papers_0_35_and_predict_uses_it():
    """§4.2: "we binarize the mask with a threshold of 0.35"."""
    cfg = _tiny_cfg()
    cfg.pop('threshold')
    model = MODELS.build(cfg).eval()
    assert model.threshold == 0.35
    # sigmoid(-0.63) = 0.3475, sigmoid(-0.61) = 0.3521
    logits = torch.tensor([[[[-0.63, -0.61], [-0.61, -0.63]]]])
    model._forward = lambda inputs, data_samples: logits
    ds = SegDataSample(metainfo=dict(img_shape=(2, 2), ori_shape=(2, 2)))
    out = model.predict(torch.zeros(1, 3, 2, 2), [ds])[0]
    assert out.pred_sem_seg.data.tolist() == [[[0, 1], [1, 0]]]
