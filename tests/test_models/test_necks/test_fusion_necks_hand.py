"""The ablation fusion necks against hand computations.

- ConcatConvFusion (Tab. 2 #2): the sentence vector tiled over the map is
  the mean of the projected *real* words; checked by number through the
  whole neck, with the convolution reduced to a centre tap that copies it.
- BidirectionalCrossModalBlock (Tab. 3 #7, BRINet): serial, in BRINet's
  order. Step 1 gives each pixel a language context, step 2 attends over
  the pixels with it; checked against the two steps written out, and the
  reverse order (words over the pixels first) gives other numbers.
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
    """The two serial steps (class docstring) with explicit softmaxes, and
    the reverse order (the words attend the pixels first) for contrast."""
    c = math.sqrt(blk.channels)

    def ln(norm, x):
        return F.layer_norm(x, (blk.channels, ), norm.weight, norm.bias)

    def w(lin, x):
        return x @ lin.weight.T

    z_v, z_l = w(blk.visual_proj, fv), w(blk.text_proj, fl)
    pad = ~mask[:, None, :]
    a_w = torch.softmax((z_v @ z_l.transpose(1, 2) / c).masked_fill(
        pad, -math.inf), -1)  # step 1: each pixel over the words
    ctx = a_w @ z_l
    a_p = torch.softmax(w(blk.query_proj, ctx) @ w(
        blk.key_proj, z_v).transpose(1, 2) / c, -1)  # step 2: over pixels
    out = w(blk.out_proj, torch.cat([a_p @ w(blk.value_proj, z_v), ctx], -1))
    lav = ln(blk.visual_norm, out + z_v)
    val = ln(blk.text_norm, z_l)
    # reverse order: words over the pixels first, pixels then over them
    a_l = torch.softmax(z_l @ z_v.transpose(1, 2) / c, -1)
    words = a_l @ z_v
    a_r = torch.softmax((z_v @ words.transpose(1, 2) / c).masked_fill(
        pad, -math.inf), -1)
    ctx_r = a_r @ words
    a_pr = torch.softmax(w(blk.query_proj, ctx_r) @ w(
        blk.key_proj, z_v).transpose(1, 2) / c, -1)
    out_r = w(blk.out_proj, torch.cat([a_pr @ w(blk.value_proj, z_v),
                                       ctx_r], -1))
    return lav, val, ln(blk.visual_norm, out_r + z_v)


def test_bcm_is_brinets_order_by_the_written_out_steps():
    """Step 1 gives each pixel weights over the real words (padding gets
    none: changing a padding word changes nothing); step 2 attends over the
    pixels with that context as the query."""
    torch.manual_seed(0)
    blk = BidirectionalCrossModalBlock(visual_channels=6, text_channels=5,
                                       channels=4)
    fv, fl = torch.randn(2, 9, 6) * 2, torch.randn(2, 4, 5) * 2
    mask = torch.tensor([[True] * 4, [True, True, False, False]])
    with torch.no_grad():
        lav, val = blk(fv, fl, mask)
        lav_ref, val_ref, lav_reverse = _bcm_written_out(blk, fv, fl, mask)
        fl_pad = fl.clone()
        fl_pad[1, 3] += 50.0
        lav_pad, _ = blk(fv, fl_pad, mask)
    torch.testing.assert_close(val, val_ref)
    torch.testing.assert_close(lav, lav_ref)
    torch.testing.assert_close(lav_pad, lav)
    assert (lav_reverse - lav).abs().max() > 0.05
