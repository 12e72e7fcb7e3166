"""Mutual-Aware Mask Decoder, Eq. 6-9 and the mask product, written out.

    F_lav^ = LN(MHSA(F_lav) + F_lav)                               (Eq. 6)
    MHSA(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V                   (Eq. 7)
    F_c^   = LN(MHSA(F_c) + F_c),  F_c = [F_m; F_val]              (Eq. 8)
    F_lav- = LN(MHCA(F_lav^, F_c^, F_c^) + F_lav^)                 (Eq. 9)
    mask   = MLP(F_m^) . up(F_lav-)                                (§3.4)

(the LayerNorms after each residual are the module's documented choice).
The reference attends with explicit matmuls and softmax on the module's own
projection weights, padding words removed as keys; it does not call
``nn.MultiheadAttention``. Also: what the multimodal query token sees. In
Eq. 8 it attends itself and the real words only, never the visual features
and never padding; through Eq. 9 every pixel reads it.
"""
import math

import torch
import torch.nn.functional as F

from projects.risam.models import MutualAwareMaskDecoder


def _attend(attn, q, k, v, key_pad=None):
    """Eq. 7 per head on ``attn``'s in/out projections."""
    e, h = attn.embed_dim, attn.num_heads
    d = e // h
    wq, wk, wv = attn.in_proj_weight.chunk(3)
    bq, bk, bv = attn.in_proj_bias.chunk(3)

    def heads(x, w, b):
        return (x @ w.T + b).reshape(x.shape[0], x.shape[1], h,
                                     d).transpose(1, 2)

    qh, kh, vh = heads(q, wq, bq), heads(k, wk, bk), heads(v, wv, bv)
    s = qh @ kh.transpose(-1, -2) / math.sqrt(d)
    if key_pad is not None:
        s = s.masked_fill(key_pad[:, None, None, :], -math.inf)
    o = (s.softmax(-1) @ vh).transpose(1, 2).reshape(q.shape[0], -1, e)
    return o @ attn.out_proj.weight.T + attn.out_proj.bias


def _ln(norm, x):
    return F.layer_norm(x, x.shape[-1:], norm.weight, norm.bias, norm.eps)


def _layer(layer, lav, fc, pad):
    lav = _ln(layer.norm_visual,
              lav + _attend(layer.visual_self_attn, lav, lav, lav))  # Eq. 6
    fc = _ln(layer.norm_text,
             fc + _attend(layer.text_self_attn, fc, fc, fc, pad))  # Eq. 8
    lav = _ln(layer.norm_cross,
              lav + _attend(layer.cross_attn, lav, fc, fc, pad))  # Eq. 9
    return lav, fc


def _upsample(seq, x):
    """Two (ConvTranspose2d 2x2/2 -> BN (running stats) -> GELU) blocks."""
    for conv, bn in ((seq[0], seq[1]), (seq[3], seq[4])):
        x = F.conv_transpose2d(x, conv.weight, conv.bias, stride=2)
        x = F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight,
                         bn.bias, training=False, eps=bn.eps)
        x = F.gelu(x)
    return x


def _decoder(dec, lav, val, mask):
    b, c, h, w = lav.shape
    fc = torch.cat([dec.query_token.expand(b, -1, -1), val], 1)
    pad = torch.cat([torch.zeros(b, 1, dtype=torch.bool), ~mask], 1)
    x = lav.flatten(2).transpose(1, 2)
    for layer in dec.layers:
        x, fc = _layer(layer, x, fc, pad)
    up = _upsample(dec.upsample, x.transpose(1, 2).reshape(b, c, h, w))
    m = dec.query_mlp
    t = F.relu(F.linear(fc[:, 0], m[0].weight, m[0].bias))
    t = F.relu(F.linear(t, m[2].weight, m[2].bias))
    t = F.linear(t, m[4].weight, m[4].bias)
    return (t[:, :, None, None] * up).sum(1, keepdim=True), fc


def _decoder_and_inputs():
    torch.manual_seed(0)
    dec = MutualAwareMaskDecoder(in_channels=16, num_heads=2,
                                 num_layers=2).eval()
    with torch.no_grad():  # non-trivial norms and BN statistics
        for mod in dec.modules():
            if isinstance(mod, (torch.nn.LayerNorm, torch.nn.BatchNorm2d)):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.3, 0.3)
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 2.0)
        for p in dec.parameters():  # biases SDPA would hide if dropped
            if p.dim() == 1 and p.abs().sum() == 0:
                p.uniform_(-0.2, 0.2)
    lav = torch.randn(2, 16, 3, 4)
    val = torch.randn(2, 5, 16)
    mask = torch.tensor([[True] * 5, [True, True, False, False, False]])
    return dec, lav, val, mask


def test_eq6_to_eq9_and_mask_product_written_out():
    dec, lav, val, mask = _decoder_and_inputs()
    with torch.no_grad():
        got = dec(lav, val, mask)
        want, _ = _decoder(dec, lav, val, mask)
    assert got.shape == (2, 1, 12, 16)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
    assert want.abs().mean() > 0.05  # a non-trivial map was compared


def test_what_the_query_token_sees():
    """F_m^ after every layer is a function of F_m and the real words of
    F_val only (Eq. 8): not of F_lav, not of padding words."""
    dec, lav, val, mask = _decoder_and_inputs()
    captured = []
    hook = dec.layers[-1].register_forward_hook(
        lambda mod, args, out: captured.append(out[1][:, 0].clone()))
    with torch.no_grad():
        dec(lav, val, mask)
        dec(torch.randn_like(lav) * 3, val, mask)  # other pixels
        val_pad = val.clone()
        val_pad[1, 2:] = 40.0  # sample 1's padding words
        dec(lav, val_pad, mask)
        val_word = val.clone()
        val_word[1, 1] += 2.0  # one real word of sample 1
        dec(lav, val_word, mask)
        _, fc_ref = _decoder(dec, lav, val, mask)
    hook.remove()
    first, other_pixels, other_pad, other_word = captured
    torch.testing.assert_close(first, fc_ref[:, 0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(other_pixels, first)
    torch.testing.assert_close(other_pad, first)
    assert (other_word[1] - first[1]).abs().max() > 1e-2
    torch.testing.assert_close(other_word[0], first[0])  # per sample


def test_every_pixel_reads_the_text_through_eq9():
    """Through Eq. 9 the pixels attend [F_m^; F_val^]: changing one real
    word changes the visual features, changing padding does not."""
    dec, lav, val, mask = _decoder_and_inputs()
    layer = dec.layers[0]
    x = lav.flatten(2).transpose(1, 2)
    fc = torch.cat([dec.query_token.expand(2, -1, -1), val], 1)
    pad = torch.cat([torch.zeros(2, 1, dtype=torch.bool), ~mask], 1)
    with torch.no_grad():
        base, _ = layer(x, fc, pad)
        moved_pad = fc.clone()
        moved_pad[1, 3:] = -25.0
        same, _ = layer(x, moved_pad, pad)
        moved_word = fc.clone()
        moved_word[1, 2] += 2.0
        diff, _ = layer(x, moved_word, pad)
    torch.testing.assert_close(same, base)
    assert (diff[1] - base[1]).abs().max(-1).values.min() > 1e-4


def test_toi_a_row_9_written_out():
    """Tab. 5 row #9 "w/ TOI-A": between Eq. 8 and Eq. 9 the query token
    and words attend the visual features,
    ``F_c^ = LN(MHCA(F_c^, F_lav^ + pos, F_lav^) + F_c^)``, and Eq. 9 then
    reads that F_c^. Both outputs of the layer, with a position encoding on
    the visual queries and keys (never the values)."""
    torch.manual_seed(3)
    dec = MutualAwareMaskDecoder(in_channels=16, num_heads=2, num_layers=1,
                                 token_to_image_attn=True).eval()
    layer = dec.layers[0]
    with torch.no_grad():
        for p in layer.parameters():
            if p.dim() == 1:  # non-trivial biases and norms
                p.add_(torch.empty_like(p).uniform_(-0.3, 0.3))
    b, lv = 2, 12
    lav = torch.randn(b, lv, 16)
    fc = torch.randn(b, 4, 16)
    pad = torch.tensor([[False] * 4, [False, False, True, True]])
    pos = torch.randn(1, lv, 16)
    with torch.no_grad():
        got_lav, got_fc = layer(lav, fc, pad, pos)
        lq = lav + pos
        lav1 = _ln(layer.norm_visual,
                   lav + _attend(layer.visual_self_attn, lq, lq, lav))
        fc1 = _ln(layer.norm_text,
                  fc + _attend(layer.text_self_attn, fc, fc, fc, pad))
        lq1 = lav1 + pos
        fc2 = _ln(layer.norm_toi,
                  fc1 + _attend(layer.toi_attn, fc1, lq1, lav1))
        lav2 = _ln(layer.norm_cross,
                   lav1 + _attend(layer.cross_attn, lq1, fc2, fc2, pad))
    torch.testing.assert_close(got_fc, fc2, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(got_lav, lav2, atol=1e-5, rtol=1e-4)
    assert (fc2 - fc1).abs().max() > 0.05  # TOI-A changed F_c^
