"""MutualAwareMaskDecoder: shapes, padding invariance, ELG switch."""
import pytest
import torch

from projects.risam.models import MutualAwareMaskDecoder


def _inputs():
    lav = torch.randn(2, 16, 4, 5)
    val = torch.randn(2, 6, 16)
    mask = torch.tensor([[True] * 6, [True, True, False, False, False,
                                      False]])
    return lav, val, mask


def test_output_shape_and_padding_invariance():
    dec = MutualAwareMaskDecoder(in_channels=16, num_heads=2).eval()
    lav, val, mask = _inputs()
    out = dec(lav, val, mask)
    assert out.shape == (2, 1, 16, 20)
    val2 = val.clone()
    val2[1, 2:] = 50.0  # padding words of sample 1
    out2 = dec(lav, val2, mask)
    torch.testing.assert_close(out, out2)


def test_without_extra_linguistic_guidance_ignores_f_val():
    dec = MutualAwareMaskDecoder(in_channels=16, num_heads=2,
                                 extra_linguistic_guidance=False).eval()
    lav, val, mask = _inputs()
    out = dec(lav, val, mask)
    torch.testing.assert_close(out, dec(lav, torch.randn_like(val), mask))
    with_elg = MutualAwareMaskDecoder(in_channels=16, num_heads=2).eval()
    # row #10's query generation has no counterpart in the paper decoder
    with_elg.load_state_dict({k: v for k, v in dec.state_dict().items()
                              if not k.startswith('query_generation.')})
    assert not torch.allclose(with_elg(lav, val, mask),
                              with_elg(lav, torch.randn_like(val), mask))


def test_loss_resizes_to_gt_and_ignores_padding():
    """The head's loss equals Eq. 10-12 written out on the logits resized
    bilinearly to the target and cropped to its valid (non-255) rows; the
    logits under the padding rows do not matter."""
    torch.manual_seed(0)
    dec = MutualAwareMaskDecoder(in_channels=16, num_heads=2)
    lav, val, mask = _inputs()
    gt = torch.randint(0, 2, (2, 64, 80))
    gt[:, 40:] = 255  # rows 40-63 are padding
    losses = dec.loss(lav, val, mask, gt)
    logits = dec(lav, val, mask)  # 2 x 1 x 16 x 20, BN in train mode
    assert logits.shape[-2:] == (16, 20)
    big = torch.nn.functional.interpolate(
        logits, size=(64, 80), mode='bilinear', align_corners=False)[:, 0]
    x, t = big[:, :40], gt[:, :40].float()  # the valid crop
    p = x.sigmoid()
    p_t = p * t + (1 - p) * (1 - t)
    focal = ((1 - p_t)**2 * -torch.log(p_t)).mean()
    inter, denom = (p * t).sum((1, 2)), p.sum((1, 2)) + t.sum((1, 2))
    dice = (1 - (2 * inter + 1) / (denom + 1)).mean()
    assert losses['loss_focal'].item() == pytest.approx(
        0.5 * focal.item(), rel=1e-5)
    assert losses['loss_dice'].item() == pytest.approx(
        0.5 * dice.item(), rel=1e-5)
    # counting the padding rows as background would change the loss
    counted = dec.loss_by_feat(logits, torch.where(gt == 255, 0, gt))
    assert abs(counted['loss_focal'] - losses['loss_focal']) > 1e-3
    sum(losses.values()).backward()
    assert dec.query_token.grad.abs().sum() > 0


def test_image_pos_embed_in_queries_and_keys_only():
    """DETR/Mask2Former form: PE on the visual queries/keys of Eq. 6 and the
    visual queries of Eq. 9, never on the values; the layer is then no
    longer equivariant to a permutation of the pixels."""
    from projects.risam.models.decode_heads.mutual_aware_mask_decoder import MutualAwareDecoderLayer
    from projects.risam.models.layers import sincos_pos_embed_2d
    torch.manual_seed(0)
    layer = MutualAwareDecoderLayer(channels=16, num_heads=2).eval()
    x, fc = torch.randn(2, 20, 16), torch.randn(2, 3, 16)
    pad = torch.tensor([[False] * 3, [False, False, True]])
    pos = sincos_pos_embed_2d(4, 5, 16).reshape(1, 20, 16)
    with torch.no_grad():
        out, fc_out = layer(x, fc, pad, pos)
        # reference, written out
        q = x + pos
        ref = layer.norm_visual(
            x + layer.visual_self_attn(q, q, x, need_weights=False)[0])
        ref_fc = layer.norm_text(fc + layer.text_self_attn(
            fc, fc, fc, key_padding_mask=pad, need_weights=False)[0])
        ref = layer.norm_cross(ref + layer.cross_attn(
            ref + pos, ref_fc, ref_fc, key_padding_mask=pad,
            need_weights=False)[0])
        torch.testing.assert_close(out, ref)
        torch.testing.assert_close(fc_out, ref_fc)
        # pixel order: invisible without PE, visible with it
        perm = torch.randperm(20)
        plain, _ = layer(x, fc, pad)
        plain_perm, _ = layer(x[:, perm], fc, pad)
        torch.testing.assert_close(plain_perm, plain[:, perm])
        with_pe_perm, _ = layer(x[:, perm], fc, pad, pos)
        assert (with_pe_perm - out[:, perm]).abs().max() > 1e-2


def test_decoder_image_pos_embed_switch():
    torch.manual_seed(0)
    off = MutualAwareMaskDecoder(in_channels=16, num_heads=2).eval()
    on = MutualAwareMaskDecoder(in_channels=16, num_heads=2,
                                image_pos_embed=True).eval()
    on.load_state_dict(off.state_dict())  # no parameters of its own
    lav, val, mask = _inputs()
    with torch.no_grad():
        assert (on(lav, val, mask) - off(lav, val, mask)).abs().max() > 1e-4
