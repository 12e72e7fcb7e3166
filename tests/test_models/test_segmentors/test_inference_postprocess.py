"""Inference: logits -> padded input -> crop -> original size -> threshold.

``RISAM.postprocess_result`` (DESIGN §3: sigmoid, upsample to the original
image size, threshold 0.35) on logits whose bilinear resizes can be done by
hand, so the crop, the resize and the threshold are each checked by number.
"""
import math

import pytest
import torch
from mmengine.structures import PixelData
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
