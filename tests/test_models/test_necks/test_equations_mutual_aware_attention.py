"""Mutual-Aware Attention block, Eq. 3-5 with the tau mask of Eq. 4.

    Z_v = F_v W_v,  Z_l = F_l W_l                                  (Eq. 3)
    A   = softmax_j(Z_v Z_l^T / sqrt(C) + M)                       (Eq. 3)
    M(i, j) = -inf where sigmoid(S(i, j)) < tau or j is padding    (Eq. 4)
    F_lav = LN(A Z_l + Z_v),  F_val = LN(A^T Z_v + Z_l)            (Eq. 5)

(Eq. 4 as the module docstring reads it: irrelevant pairs, relevance below
tau, are removed.) Both outputs are checked with a tau that masks some pairs
but not all, once on numbers small enough to follow by hand and once against
the equations written out on random features; and the masked block must
differ from ``use_attn_mask=False``.
"""
import math

import pytest
import torch
import torch.nn.functional as F

from projects.risam.models import MutualAwareAttention


def _identity_block(tau=0.35, **kw):
    """C = C_v = C' = 3 with W_v = W_l = I and LN without affine change."""
    blk = MutualAwareAttention(visual_channels=3, text_channels=3,
                               channels=3, tau=tau, **kw)
    with torch.no_grad():
        blk.visual_proj.weight.copy_(torch.eye(3))
        blk.text_proj.weight.copy_(torch.eye(3))
    return blk


def _ln(x):
    x = torch.as_tensor(x, dtype=torch.float32)
    return F.layer_norm(x, x.shape[-1:])


def test_hand_numbers_one_word_masked():
    """One pixel z_v = (1, 0, 0); words (3, 0, 0), (-3, 0, 6), (0, 1, 0) and
    one padding word.

    S = z_v . z_l / sqrt(3) = (1.7321, -1.7321, 0); sigmoid(S) = (0.8497,
    0.1503, 0.5). With tau = 0.35 word 2 is masked (0.1503 < 0.35), words 1
    and 3 stay: A = softmax(1.7321, 0) = (0.8497, 0, 0.1503, 0)
    (softmax of (x, 0) is (sigmoid(x), 1 - sigmoid(x))).

    F_lav = LN(A Z_l + z_v) = LN(0.8497 (3, 0, 0) + 0.1503 (0, 1, 0)
    + (1, 0, 0)) = LN(3.5492, 0.1503, 0).
    F_val[j] = LN(A[j] z_v + Z_l[j]): word 1 LN(3.8497, 0, 0); word 2 (masked)
    LN(-3, 0, 0); word 3 LN(0.1503, 1, 0).
    """
    blk = _identity_block(tau=0.35)
    fv = torch.tensor([[[1.0, 0.0, 0.0]]])
    fl = torch.tensor([[[3.0, 0.0, 0.0], [-3.0, 0.0, 6.0], [0.0, 1.0, 0.0],
                        [7.0, 7.0, -7.0]]])
    mask = torch.tensor([[True, True, True, False]])
    lav, val = blk(fv, fl, mask)
    a1 = 1 / (1 + math.exp(-3 / math.sqrt(3)))  # 0.8497
    assert a1 == pytest.approx(0.849675, abs=1e-6)
    torch.testing.assert_close(lav[0, 0], _ln([1 + 3 * a1, 1 - a1, 0.0]))
    torch.testing.assert_close(val[0, 0], _ln([3 + a1, 0.0, 0.0]))
    torch.testing.assert_close(val[0, 1], _ln([-3.0, 0.0, 6.0]))
    torch.testing.assert_close(val[0, 2], _ln([1 - a1, 1.0, 0.0]))
    # without the tau mask word 2 takes part: A = softmax(1.7321, -1.7321, 0)
    # = (0.8360, 0.0261, 0.1379), and its 6 in the third channel shows
    loose = _identity_block(use_attn_mask=False)
    lav_l, val_l = loose(fv, fl, mask)
    e = torch.tensor([math.sqrt(3), -math.sqrt(3), 0.0]).softmax(0)
    zl = fl[0, :3]
    torch.testing.assert_close(lav_l[0, 0], _ln(e @ zl + fv[0, 0]))
    torch.testing.assert_close(val_l[0, 1], _ln([-3 + e[1], 0.0, 6.0]))
    assert (lav_l - lav).abs().max() > 0.01
    assert (val_l[0, 1] - val[0, 1]).abs().max() > 1e-3


def test_tau_raises_the_number_of_masked_pairs():
    """A larger tau removes more pairs (Fig. 8: "when tau is too big, some
    necessary features are masked")."""
    torch.manual_seed(0)
    fv, fl = torch.randn(1, 40, 6), torch.randn(1, 5, 6)
    mask = torch.ones(1, 5, dtype=torch.bool)
    blk = MutualAwareAttention(visual_channels=6, text_channels=6,
                               channels=6)
    z_v, z_l = blk.visual_proj(fv), blk.text_proj(fl)
    scores = z_v @ z_l.transpose(1, 2) / math.sqrt(6)
    kept = []
    for tau in (0.2, 0.3, 0.4, 0.45):  # no pixel loses every word yet
        blk.tau = tau
        kept.append(int(blk.allowed_pairs(scores, mask).sum()))
    assert kept == sorted(kept, reverse=True) and kept[0] > kept[-1]


def _reference(blk, fv, fl, mask, tau):
    """Eq. 3-5 written out. A pixel whose every real word is below tau
    attends all real words (the module's documented fallback)."""
    z_v = fv @ blk.visual_proj.weight.T
    z_l = fl @ blk.text_proj.weight.T
    s = z_v @ z_l.transpose(1, 2) / math.sqrt(blk.channels)
    real = mask[:, None, :].expand_as(s)
    keep = (torch.sigmoid(s) >= tau) & real
    keep = keep | (~keep.any(-1, keepdim=True) & real)
    m = torch.zeros_like(s).masked_fill(~keep, -math.inf)
    a = torch.softmax(s + m, -1)
    lav = F.layer_norm(a @ z_l + z_v, (blk.channels, ),
                       blk.visual_norm.weight, blk.visual_norm.bias)
    val = F.layer_norm(a.transpose(1, 2) @ z_v + z_l, (blk.channels, ),
                       blk.text_norm.weight, blk.text_norm.bias)
    return lav, val, keep


def test_eq3_to_eq5_written_out_with_a_partial_tau_mask():
    torch.manual_seed(0)
    blk = MutualAwareAttention(visual_channels=6, text_channels=5,
                               channels=4, tau=0.45)
    with torch.no_grad():  # non-trivial LN affine parameters
        for ln in (blk.visual_norm, blk.text_norm):
            ln.weight.uniform_(0.5, 1.5)
            ln.bias.uniform_(-0.5, 0.5)
    fv, fl = torch.randn(2, 12, 6) * 2, torch.randn(2, 5, 5) * 2
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    lav_ref, val_ref, keep = _reference(blk, fv, fl, mask, 0.45)
    real_pairs = mask[:, None, :].expand_as(keep)
    masked = (real_pairs & ~keep).sum().item()
    # tau masks some real pairs but not all; most pixels keep some words
    # and lose others, one pixel (sample 1) loses all and falls back
    assert 0.15 * real_pairs.sum() < masked < 0.7 * real_pairs.sum()
    partial = keep.any(-1) & (keep != real_pairs).any(-1)
    assert partial.sum() >= 12
    lav, val = blk(fv, fl, mask)
    torch.testing.assert_close(lav, lav_ref)
    # padding words' F_val is LN(Z_l) (A is zero there); real words checked
    torch.testing.assert_close(val[0], val_ref[0])
    torch.testing.assert_close(val[1, :3], val_ref[1, :3])
    # the same block without the tau mask gives other features
    loose = MutualAwareAttention(visual_channels=6, text_channels=5,
                                 channels=4, use_attn_mask=False)
    loose.load_state_dict(blk.state_dict())
    lav_l, val_l = loose(fv, fl, mask)
    assert (lav_l - lav).abs().max() > 0.05
    assert (val_l[0] - val[0]).abs().max() > 0.05
