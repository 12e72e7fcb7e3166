"""The ablation-only necks (``necks/ablations/``): the SDF block (Tab. 3 #6)
and the transformer fusion (Tab. 3 #5) written out, ``masked_mean`` on
uneven sentences, ConcatConv's refusal, the plain projections of SAM's
baseline (Tab. 11), and the resampling rules of ``FeatureResampleAdapter``
(Tab. 7) and ``SimpleFeaturePyramidNeck`` (Tab. 6 #11): area down, bilinear
up with ``align_corners=False``, against ``F.interpolate`` itself."""
import math

import pytest
import torch
import torch.nn.functional as F

from projects.risam.models.necks.ablations import (
    ConcatConvFusion,
    FeatureResampleAdapter,
    LinearProjectionNeck,
    SimpleFeaturePyramidNeck,
    TransformerEncoderFusion,
)
from projects.risam.models.necks.ablations.concat_conv_fusion import masked_mean
from projects.risam.models.necks.ablations.simple_feature_pyramid import _rescale
from projects.risam.models.necks.ablations.spatial_dynamic_fusion import SpatialDynamicBlock


def test_transformer_fusion_default_sizes():
    neck = TransformerEncoderFusion(in_channels=8, text_channels=6)
    layer = neck.encoder.layers[0]
    assert layer.self_attn.num_heads == 8
    assert layer.linear1.out_features == 1024


@pytest.mark.parametrize('kind', ['adapter', 'pyramid'])
def test_resampling_necks_init_cfg_reaches_mmengine(kind):
    init_cfg = dict(type='Constant', layer='Conv2d', val=0.25, bias=0.0)
    if kind == 'adapter':
        neck = FeatureResampleAdapter(in_channels=[4, 8], out_channels=8,
                                      init_cfg=init_cfg)
    else:
        neck = SimpleFeaturePyramidNeck(in_channels=16, out_channels=8,
                                        init_cfg=init_cfg)
    neck.init_weights()
    convs = [m for m in neck.modules() if type(m) is torch.nn.Conv2d]
    assert convs and all(torch.all(m.weight == 0.25) for m in convs)


def test_sdf_block_written_out():
    """Tab. 3 #6: ``A = softmax_words(Z_v Z_l^T / sqrt(C))`` over the real
    words, ``F_lav = LN(A Z_l + Z_v)``, ``F_val = LN(Z_l)``; the projections
    have no bias."""
    torch.manual_seed(0)
    blk = SpatialDynamicBlock(visual_channels=8, text_channels=6,
                              channels=16).eval()
    with torch.no_grad():
        for norm in (blk.visual_norm, blk.text_norm):
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.3, 0.3)
    fv, fl = torch.randn(2, 12, 8), torch.randn(2, 5, 6)
    mask = torch.tensor([[True] * 5, [True, True, False, False, False]])
    with torch.no_grad():
        lav, val = blk(fv, fl, mask)
        z_v = fv @ blk.visual_proj.weight.T
        z_l = fl @ blk.text_proj.weight.T
        s = z_v @ z_l.transpose(1, 2) / math.sqrt(16)
        a = s.masked_fill(~mask[:, None, :], -math.inf).softmax(-1)

        def ln(norm, x):
            return F.layer_norm(x, (16, ), norm.weight, norm.bias, norm.eps)

        torch.testing.assert_close(lav, ln(blk.visual_norm, a @ z_l + z_v))
        torch.testing.assert_close(val, ln(blk.text_norm, z_l))
    assert blk.visual_proj.bias is None and blk.text_proj.bias is None


def test_sdf_tau_mask_switch():
    """``use_attn_mask`` is off by default (VLT has no Eq. 4 mask); on, the
    SDF block uses the MA block's Eq. 4 mask (pairs with sigmoid(S) < tau
    removed, empty rows fall back to the real words): with the MA block's
    weights, ``F_lav`` is the MA block's ``F_lav`` at the same tau."""
    from projects.risam.models.necks import MutualAwareAttention
    from projects.risam.models.necks.ablations import SpatialDynamicFusion
    assert SpatialDynamicFusion(in_channels=8, text_channels=6
                                ).blocks[0].use_attn_mask is False
    torch.manual_seed(0)
    plain = SpatialDynamicBlock(visual_channels=8, text_channels=6,
                                channels=16).eval()
    masked = SpatialDynamicBlock(visual_channels=8, text_channels=6,
                                 channels=16, tau=0.6,
                                 use_attn_mask=True).eval()
    masked.load_state_dict(plain.state_dict())
    ma = MutualAwareAttention(visual_channels=8, text_channels=6,
                              channels=16, tau=0.6).eval()
    ma.load_state_dict(plain.state_dict())
    fv, fl = torch.randn(2, 12, 8) * 3, torch.randn(2, 5, 6) * 3
    mask = torch.tensor([[True] * 5, [True, True, False, False, False]])
    with torch.no_grad():
        lav_plain, _ = plain(fv, fl, mask)
        lav_masked, val = masked(fv, fl, mask)
        lav_ma, _ = ma(fv, fl, mask)
        s = (fv @ plain.visual_proj.weight.T) @ (
            fl @ plain.text_proj.weight.T).transpose(1, 2) / 4
    removed = (torch.sigmoid(s) < 0.6) & mask[:, None, :]
    assert removed.any(dim=-1).float().mean() > 0.3  # the mask bites
    torch.testing.assert_close(lav_masked, lav_ma)
    assert (lav_masked - lav_plain).abs().max() > 0.05


def test_masked_mean_on_uneven_sentences():
    tokens = torch.tensor([[[1., 2.], [3., 4.], [9., 9.]],
                           [[5., 6.], [7., 7.], [8., 8.]],
                           [[1., 1.], [1., 1.], [1., 1.]]])
    mask = torch.tensor([[True, True, False], [True, False, False],
                         [False, False, False]])
    torch.testing.assert_close(masked_mean(tokens, mask), torch.tensor(
        [[2., 3.], [5., 6.], [0., 0.]]))
    half = masked_mean(tokens.bfloat16(), mask)
    assert half.dtype == torch.bfloat16


def test_concat_conv_refuses_no_convs_in_one_line():
    with pytest.raises(ValueError,
                       match='^ConcatConvFusion needs num_convs >= 1$'):
        ConcatConvFusion(in_channels=8, text_channels=6, num_convs=0)


def test_resample_adapter_area_down_bilinear_up():
    """Levels larger than the reference grid are area-averaged, smaller (or
    other-shaped) ones bilinearly resized (``align_corners=False``), the
    reference level kept; then each level's 1x1 conv + LayerNorm2d. A
    non-square grid (6 x 3) with a level whose height lies between the
    grid's width and height."""
    torch.manual_seed(0)
    adapter = FeatureResampleAdapter(in_channels=[4, 8, 16, 2],
                                     out_channels=8, ref_index=1).eval()
    feats = (torch.randn(1, 4, 12, 6), torch.randn(1, 8, 6, 3),
             torch.randn(1, 16, 3, 2), torch.randn(1, 2, 4, 2))
    with torch.no_grad():
        outs = adapter(feats)
        want = [F.avg_pool2d(feats[0], 2), feats[1],
                F.interpolate(feats[2], size=(6, 3), mode='bilinear',
                              align_corners=False),
                F.interpolate(feats[3], size=(6, 3), mode='bilinear',
                              align_corners=False)]
        for out, proj, w in zip(outs, adapter.projs, want):
            torch.testing.assert_close(out, proj(w))
    with pytest.raises(ValueError, match='^expected 4 levels, got 3$'):
        adapter(feats[:3])


def test_feature_pyramid_merge_resizes_area_down_bilinear_up():
    """``fuse=True``: the levels (4x, 2x, 1x, 0.5x) come back to ``H x W``,
    area down and bilinear up, and are merged; a batch given as one tensor
    is the same as the tuple's last entry."""
    torch.manual_seed(0)
    sfp = SimpleFeaturePyramidNeck(in_channels=16, out_channels=8).eval()
    # 6 x 2: the 0.5x level (3 x 1) is taller than the grid is wide
    for h, w in ((4, 6), (6, 2)):
        x = torch.randn(2, 16, h, w)
        with torch.no_grad():
            (got, ) = sfp(x)
            (from_tuple, ) = sfp((torch.randn(2, 16, h, w), x))
            pyramid = [level(x) for level in sfp.levels]
            resized = [F.adaptive_avg_pool2d(p, (h, w)) if p.shape[-2] > h
                       else F.interpolate(p, size=(h, w), mode='bilinear',
                                          align_corners=False)
                       for p in pyramid]
            want = sfp.merge(torch.cat(resized, dim=1))
        assert [p.shape[-2] for p in pyramid] == [4 * h, 2 * h, h, h // 2]
        torch.testing.assert_close(got, want)
        torch.testing.assert_close(from_tuple, got)


def test_transformer_fusion_written_out(neck_inputs):
    """Tab. 3's transformer row: ``[F_v W_v + m_v; F_l W_l + m_l]`` through
    post-norm encoder layers (GELU, feed-forward 1024 by default, no
    dropout) with the padding words masked as keys; the pixels come back on
    the grid, the words as ``F_val``."""
    torch.manual_seed(0)
    neck = TransformerEncoderFusion(in_channels=8, text_channels=6,
                                    channels=16, num_heads=2,
                                    feedforward_channels=32)
    visual, text, mask = neck_inputs()
    with torch.no_grad():
        lav, val = neck.eval()(visual, text, mask)
        v = visual.flatten(2).transpose(1, 2) @ neck.visual_proj.weight.T \
            + neck.visual_proj.bias
        t = text @ neck.text_proj.weight.T + neck.text_proj.bias
        x = torch.cat([v + neck.modality_embed[0],
                       t + neck.modality_embed[1]], 1)
        pad = torch.cat([torch.zeros(2, 12, dtype=torch.bool), ~mask], 1)
        for layer in neck.encoder.layers:
            a = torch.nn.MultiheadAttention.forward(
                layer.self_attn, x, x, x, key_padding_mask=pad,
                need_weights=False)[0]
            x = layer.norm1(x + a)
            ff = layer.linear2(F.gelu(layer.linear1(x)))
            x = layer.norm2(x + ff)
    torch.testing.assert_close(lav, x[:, :12].transpose(1, 2).reshape(
        2, 16, 3, 4), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(val, x[:, 12:], atol=1e-5, rtol=1e-4)
    assert neck.modality_embed.shape == (2, 16)
    assert neck.modality_embed.abs().max() < 0.1  # N(0, 0.02^2)
    # no dropout, and the same in training mode (the slow path, where the
    # padding flags must be bool: a float mask would be added to the logits)
    lav_t, val_t = neck.train()(visual, text, mask)
    torch.testing.assert_close(lav_t, lav, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(val_t, val, atol=1e-5, rtol=1e-4)


def test_transformer_fusion_on_another_device(neck_inputs):
    with torch.device('meta'):
        neck = TransformerEncoderFusion(in_channels=8, text_channels=6,
                                        channels=16, num_heads=2)
    visual, text, mask = neck_inputs()
    lav, _ = neck(visual.to('meta'), text.to('meta'), mask.to('meta'))
    assert lav.device.type == 'meta'


def test_linear_projection_passes_sams_embedding_through(neck_inputs):
    """Tab. 11's "SAM" row: without ``in_channels`` the visual map is SAM's
    image embedding unchanged; the words get ``W_l``."""
    torch.manual_seed(0)
    neck = LinearProjectionNeck(text_channels=6, channels=8)
    visual, text, mask = neck_inputs(cv=8)
    lav, val = neck((torch.zeros(1), visual), text, mask)
    assert lav is visual
    torch.testing.assert_close(
        val, text @ neck.text_proj.weight.T + neck.text_proj.bias)


def test_feature_pyramid_4x_branch_and_size():
    """ViTDet's 4x branch: ConvT -> LayerNorm2d -> GELU -> ConvT (written
    out); each level then conv1x1 -> LN -> conv3x3 -> LN without biases
    (the parameter count), the merge conv3x3 -> BN -> GELU."""
    torch.manual_seed(0)
    up = _rescale(16, 4.0)
    x = torch.randn(1, 16, 2, 3)
    with torch.no_grad():
        y = F.conv_transpose2d(x, up[0].weight, up[0].bias, stride=2)
        mu = y.mean(1, keepdim=True)
        var = (y - mu).pow(2).mean(1, keepdim=True)
        y = (y - mu) / (var + up[1].eps).sqrt()
        y = y * up[1].weight[:, None, None] + up[1].bias[:, None, None]
        y = F.conv_transpose2d(F.gelu(y), up[3].weight, up[3].bias,
                               stride=2)
        torch.testing.assert_close(up(x), y, atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match='^unsupported scale 3.0$'):
        _rescale(16, 3.0)
    sfp = SimpleFeaturePyramidNeck(in_channels=16, out_channels=8)
    c, o = 16, 8
    rescale = (c * c // 2 * 4 + c // 2 + 2 * (c // 2)
               + c // 2 * c // 4 * 4 + c // 4) + (c * c // 2 * 4 + c // 2)
    levels = sum(m * o + 2 * o + o * o * 9 + 2 * o
                 for m in (c // 4, c // 2, c, c))
    merge = 4 * o * o * 9 + 2 * o
    assert sum(p.numel() for p in sfp.parameters()) == \
        rescale + levels + merge
    assert [type(m).__name__ for m in sfp.merge] == [
        'Conv2d', 'BatchNorm2d', 'GELU']
    assert SimpleFeaturePyramidNeck(in_channels=16).levels[2][1] \
        .out_channels == 256


def test_resample_adapter_defaults():
    """C = 256 and the stride-16 level's grid (``ref_index=1``)."""
    adapter = FeatureResampleAdapter(in_channels=[4, 8, 16]).eval()
    feats = (torch.randn(1, 4, 8, 8), torch.randn(1, 8, 4, 4),
             torch.randn(1, 16, 2, 2))
    with torch.no_grad():
        outs = adapter(feats)
    assert [o.shape for o in outs] == [(1, 256, 4, 4)] * 3
