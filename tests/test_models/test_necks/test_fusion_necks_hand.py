"""The ablation fusion necks against hand computations.

- ConcatConvFusion (Tab. 2 #2): the sentence vector tiled over the map is
  the mean of the projected *real* words; checked by number through the
  whole neck, with the convolution reduced to a centre tap that copies it.
- BidirectionalCrossModalBlock (Tab. 3 #7, BRINet): serial. Step 2 attends
  over the output of step 1; checked against the two steps written out, and
  a parallel variant (step 2 over Z_l) gives other numbers.
"""
import math

import pytest
import torch
import torch.nn.functional as F

from projects.risam.models.necks.ablations.bidirectional_cross_modal_fusion import (
    BidirectionalCrossModalBlock,
)
from projects.risam.models.necks.ablations.concat_conv_fusion import ConcatConvFusion


def test_concat_conv_tiles_the_mean_of_the_real_words():
    """Words (1, 2), (3, 5) are real, (100, -100) is padding: the sentence
    vector is (2, 3.5). With W_l = I, one conv whose centre tap copies the
    two sentence channels, and inference BN (mean 0, var 1), every pixel of
    F_lav is GELU((2, 3.5) / sqrt(1 + eps))."""
    neck = ConcatConvFusion(in_channels=3, text_channels=2, channels=2,
                            num_convs=1).eval()
    with torch.no_grad():
        neck.text_proj.weight.copy_(torch.eye(2))
        neck.text_proj.bias.zero_()
        conv = neck.convs[0]
        conv.weight.zero_()
        conv.weight[0, 2, 1, 1] = 1.0  # output 0 <- sentence channel 0
        conv.weight[1, 3, 1, 1] = 1.0  # output 1 <- sentence channel 1
    text = torch.tensor([[[1.0, 2.0], [3.0, 5.0], [100.0, -100.0]]])
    mask = torch.tensor([[True, True, False]])
    lav, val = neck(torch.randn(1, 3, 4, 5), text, mask)
    s = torch.tensor([2.0, 3.5]) / math.sqrt(1 + 1e-5)
    want = F.gelu(s)[None, :, None, None].expand(1, 2, 4, 5)
    torch.testing.assert_close(lav, want)
    assert F.gelu(torch.tensor(3.5)).item() == pytest.approx(3.4992, abs=1e-4)
    # F_val = LN(Z_l): (1, 2) -> (-1, 1)
    torch.testing.assert_close(val[0, 0], torch.tensor([-1.0, 1.0]),
                               atol=1e-4, rtol=0)


def _bcm_written_out(blk, fv, fl, mask):
    """The two serial steps (class docstring) with explicit softmaxes."""
    c = math.sqrt(blk.channels)
    z_v = fv @ blk.visual_proj.weight.T
    z_l = fl @ blk.text_proj.weight.T
    a_l = torch.softmax(z_l @ z_v.transpose(1, 2) / c, -1)  # over pixels
    val = F.layer_norm(a_l @ z_v + z_l, (blk.channels, ),
                       blk.text_norm.weight, blk.text_norm.bias)
    keys = val @ blk.key_proj.weight.T  # step 2 reads step 1's output
    s = z_v @ keys.transpose(1, 2) / c
    a_v = torch.softmax(s.masked_fill(~mask[:, None, :], -math.inf), -1)
    lav = F.layer_norm(a_v @ val + z_v, (blk.channels, ),
                       blk.visual_norm.weight, blk.visual_norm.bias)
    # the parallel variant: step 2 over the words as they came in
    keys_p = z_l @ blk.key_proj.weight.T
    a_p = torch.softmax((z_v @ keys_p.transpose(1, 2) / c).masked_fill(
        ~mask[:, None, :], -math.inf), -1)
    lav_parallel = F.layer_norm(a_p @ z_l + z_v, (blk.channels, ),
                                blk.visual_norm.weight, blk.visual_norm.bias)
    return lav, val, lav_parallel


def test_bcm_is_serial_by_the_written_out_steps():
    torch.manual_seed(0)
    blk = BidirectionalCrossModalBlock(visual_channels=6, text_channels=5,
                                       channels=4)
    fv, fl = torch.randn(2, 9, 6) * 2, torch.randn(2, 4, 5) * 2
    mask = torch.tensor([[True] * 4, [True, True, False, False]])
    lav, val = blk(fv, fl, mask)
    lav_ref, val_ref, lav_parallel = _bcm_written_out(blk, fv, fl, mask)
    torch.testing.assert_close(val, val_ref)
    torch.testing.assert_close(lav, lav_ref)
    assert (lav_parallel - lav).abs().max() > 0.05
