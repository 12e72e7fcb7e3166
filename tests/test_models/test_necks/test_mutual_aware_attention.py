"""MutualAwareAttention / Fusion: Eq. 3-5 values and mask semantics."""
import math

import pytest
import torch

from projects.risam.models import MutualAwareAttention, MutualAwareFusion


def _block(**kw):
    blk = MutualAwareAttention(visual_channels=6, text_channels=5,
                               channels=4, **kw)
    return blk


def test_matches_eq3_eq5_without_mask():
    blk = _block(use_attn_mask=False)
    fv, fl = torch.randn(2, 7, 6), torch.randn(2, 3, 5)
    mask = torch.ones(2, 3, dtype=torch.bool)
    lav, val = blk(fv, fl, mask)
    z_v, z_l = fv @ blk.visual_proj.weight.T, fl @ blk.text_proj.weight.T
    a = torch.softmax(z_v @ z_l.transpose(1, 2) / math.sqrt(4), -1)
    ln = torch.nn.functional.layer_norm
    torch.testing.assert_close(
        lav, ln(a @ z_l + z_v, (4, ), blk.visual_norm.weight,
                blk.visual_norm.bias))
    torch.testing.assert_close(
        val, ln(a.transpose(1, 2) @ z_v + z_l, (4, ), blk.text_norm.weight,
                blk.text_norm.bias))


def test_tau_masks_low_relevance_pairs_and_padding():
    blk = _block(tau=0.35)
    scores = torch.tensor([[[2.0, -3.0, 0.0, 5.0],     # R=.88 .05 .5 (pad)
                            [-2.0, -3.0, -1.0, 5.0]]])  # all < .35 -> fallback
    mask = torch.tensor([[True, True, True, False]])
    allowed = blk.allowed_pairs(scores, mask)
    assert allowed.tolist() == [[[True, False, True, False],
                                 [True, True, True, False]]]
    assert not _block(use_attn_mask=False).allowed_pairs(scores, mask)[
        ..., 3].any()


def test_masked_pairs_get_zero_weight_and_padding_is_inert():
    blk = _block(tau=0.5)
    fv, fl = torch.randn(1, 9, 6), torch.randn(1, 4, 5)
    mask = torch.tensor([[True, True, True, False]])
    lav, val = blk(fv, fl, mask)
    fl2 = fl.clone()
    fl2[0, 3] = 100.0  # change the padding word: F_lav must not move
    lav2, val2 = blk(fv, fl2, mask)
    torch.testing.assert_close(lav, lav2)
    torch.testing.assert_close(val[:, :3], val2[:, :3])


def test_fully_masked_rows_fall_back_without_nan():
    fv, fl = torch.randn(2, 9, 6), torch.randn(2, 4, 5)
    mask = torch.tensor([[True, True, False, False]] * 2)
    strict = _block(tau=1.0)  # sigmoid < 1 everywhere: every pair masked
    loose = _block(use_attn_mask=False)
    loose.load_state_dict(strict.state_dict())
    a, b = strict(fv, fl, mask), loose(fv, fl, mask)
    torch.testing.assert_close(a[0], b[0])
    torch.testing.assert_close(a[1], b[1])


def test_all_padding_sentence_gives_finite_values_and_grads():
    blk = _block()
    fv = torch.randn(2, 9, 6, requires_grad=True)
    fl = torch.randn(2, 4, 5, requires_grad=True)
    mask = torch.tensor([[False] * 4, [True, False, False, False]])
    lav, val = blk(fv, fl, mask)
    assert torch.isfinite(lav).all() and torch.isfinite(val).all()
    # no real word: F_lav = LN(Z_v)
    z_v = fv[0] @ blk.visual_proj.weight.T
    torch.testing.assert_close(lav[0], blk.visual_norm(z_v))
    (lav.sum() + val.sum()).backward()
    assert torch.isfinite(fv.grad).all() and torch.isfinite(fl.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in blk.parameters())


def test_fusion_shapes_and_block_count():
    fusion = MutualAwareFusion(in_channels=6, text_channels=5, channels=4,
                               num_blocks=3)
    assert len(fusion.blocks) == 3
    assert fusion.blocks[1].visual_proj.in_features == 4
    lav, val = fusion((torch.randn(2, 8, 3, 3), torch.randn(2, 6, 3, 5)),
                      torch.randn(2, 7, 5), torch.ones(2, 7, dtype=bool))
    assert lav.shape == (2, 4, 3, 5) and val.shape == (2, 7, 4)


def test_language_branch_scale_and_its_normalisation():
    """Eq. 5 as printed: word j receives s_j = sum_i A[i, j] times the pixel
    features, and the s_j of the real words add up to L_v (683 per word for
    a 64 x 64 map and 6 real tokens); normalised: a weighted mean."""
    torch.manual_seed(0)
    printed = MutualAwareAttention(visual_channels=8, text_channels=8,
                                   channels=8, use_attn_mask=False)
    normed = MutualAwareAttention(visual_channels=8, text_channels=8,
                                  channels=8, use_attn_mask=False,
                                  normalize_language_attn=True)
    normed.load_state_dict(printed.state_dict())
    fv, fl = torch.randn(1, 64 * 64, 8), torch.randn(1, 17, 8)
    mask = torch.zeros(1, 17, dtype=torch.bool)
    mask[:, :6] = True
    z_v, z_l = printed.visual_proj(fv), printed.text_proj(fl)
    attn = torch.softmax(z_v @ z_l.transpose(1, 2) / math.sqrt(8)
                         + torch.where(mask, 0., -torch.inf)[:, None], -1)
    s = attn.sum(1)[0]  # per-word scale
    assert s[:6].sum().item() == pytest.approx(4096, rel=1e-4)
    assert s[:6].mean().item() == pytest.approx(682.67, rel=1e-4)
    assert torch.all(s[6:] == 0)
    # a constant pixel feature v: printed gives s_j * v, normalised gives v
    v = torch.randn(1, 1, 8).expand(1, 64 * 64, 8)
    torch.testing.assert_close(printed.language_aggregate(attn, v)[0],
                               s[:, None] * v[0, :17], rtol=1e-4, atol=1e-3)
    agg = normed.language_aggregate(attn, v)[0]
    torch.testing.assert_close(agg[:6], v[0, :6], rtol=1e-4, atol=1e-5)
    assert torch.all(agg[6:] == 0)  # padding receives nothing, not NaN
    # F_lav is untouched; F_val differs
    lav_p, val_p = printed(fv, fl, mask)
    lav_n, val_n = normed(fv, fl, mask)
    torch.testing.assert_close(lav_n, lav_p)
    assert (val_n[:, :6] - val_p[:, :6]).abs().max() > 0.1
    # normalised: F_val = LN(weighted mean of Z_v + Z_l)
    w = attn.transpose(1, 2) / s[None, :, None].clamp_min(1e-30)
    expect = torch.nn.functional.layer_norm(
        w @ z_v + z_l, (8, ), normed.text_norm.weight, normed.text_norm.bias)
    torch.testing.assert_close(val_n[:, :6], expect[:, :6])


def test_ma_stack_defaults_reach_its_blocks():
    """Tab. 4: two MA blocks; Eq. 4 with τ = 0.35 and Eq. 5 as printed by
    default; what is given reaches every block."""
    neck = MutualAwareFusion(in_channels=8, text_channels=6)
    assert [(b.tau, b.use_attn_mask, b.normalize_language_attn)
            for b in neck.blocks] == [(0.35, True, False)] * 2
    neck = MutualAwareFusion(in_channels=8, text_channels=6, tau=0.2,
                             use_attn_mask=False,
                             normalize_language_attn=True, num_blocks=3)
    assert [(b.tau, b.use_attn_mask, b.normalize_language_attn)
            for b in neck.blocks] == [(0.2, False, True)] * 3


def test_eq4_keeps_a_pair_exactly_at_tau():
    """Masked iff ``sigmoid(s) < τ``: ``s = 0`` at ``τ = 0.5`` is kept."""
    ma = MutualAwareAttention(visual_channels=4, text_channels=4,
                              channels=4, tau=0.5)
    scores = torch.tensor([[[0.0, -1.0, 2.0]]])
    mask = torch.ones(1, 3, dtype=torch.bool)
    assert ma.allowed_pairs(scores, mask).tolist() == [[[True, False, True]]]
