"""Value checks of the ablation modules beyond the one-step config test."""
import torch
from segment_anything.modeling.common import LayerNorm2d

from projects.risam.models.decode_heads import MutualAwareMaskDecoder, SAMMaskDecoderHead
from projects.risam.models.necks import (
    BidirectionalCrossModalFusion,
    ConcatConvFusion,
    FeatureResampleAdapter,
    SimpleFeaturePyramidNeck,
)


def _head(**kw):
    return SAMMaskDecoderHead(in_channels=32, num_heads=2, mlp_dim=64,
                              iou_head_hidden_dim=32, **kw).eval()


def test_sam_head_ignores_padding_and_loads_official_keys(tmp_path):
    head = _head()
    lav = torch.randn(2, 32, 4, 4)
    val = torch.randn(2, 5, 32)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]).bool()
    with torch.no_grad():
        out = head(lav, val, mask)
        val2 = val.clone()
        val2[0, 3:] = 100.0  # padding words of sample 0
        torch.testing.assert_close(head(lav, val2, mask), out)
        assert out.shape == (2, 1, 16, 16)
        # sentence matters: a different real word changes the mask
        val2[0, 0] += 1.0
        assert not torch.allclose(head(lav, val2, mask)[0], out[0])
    # an official SAM file: image_encoder.*, prompt_encoder.*, mask_decoder.*
    state = {'image_encoder.patch_embed.proj.weight': torch.zeros(1)}
    for k, v in head.state_dict().items():
        key = k if k.startswith('mask_decoder.') else 'prompt_encoder.' + k
        state[key] = v
    torch.save(state, tmp_path / 'sam.pth')
    torch.manual_seed(1)
    loaded = _head(checkpoint=str(tmp_path / 'sam.pth'))
    with torch.no_grad():
        torch.testing.assert_close(loaded(lav, val, mask), out)
    assert not any(p.requires_grad for p in
                   loaded.mask_decoder.iou_prediction_head.parameters())


def test_toi_a_off_is_the_paper_decoder():
    torch.manual_seed(0)
    ref = MutualAwareMaskDecoder(in_channels=32, num_heads=2).eval()
    torch.manual_seed(0)
    off = MutualAwareMaskDecoder(in_channels=32, num_heads=2,
                                 token_to_image_attn=False).eval()
    assert ref.state_dict().keys() == off.state_dict().keys()
    torch.manual_seed(0)
    on = MutualAwareMaskDecoder(in_channels=32, num_heads=2,
                                token_to_image_attn=True).eval()
    extra = set(on.state_dict()) - set(ref.state_dict())
    assert extra and all('toi_attn' in k or 'norm_toi' in k for k in extra)
    lav, val = torch.randn(1, 32, 4, 4), torch.randn(1, 3, 32)
    mask = torch.ones(1, 3).bool()
    with torch.no_grad():
        torch.testing.assert_close(off(lav, val, mask), ref(lav, val, mask))


def test_concat_conv_sentence_is_mean_of_real_words():
    neck = ConcatConvFusion(in_channels=8, text_channels=6, channels=8).eval()
    visual = torch.randn(1, 8, 3, 3)
    text = torch.randn(1, 4, 6)
    mask = torch.tensor([[True, True, False, False]])
    with torch.no_grad():
        lav, val = neck(visual, text, mask)
        text2 = text.clone()
        text2[0, 2:] = 50.0
        lav2, _ = neck(visual, text2, mask)
    torch.testing.assert_close(lav, lav2)
    assert lav.shape == (1, 8, 3, 3) and val.shape == (1, 4, 8)


def test_bcm_words_guide_the_pixels_and_see_no_image():
    """BRINet's order: the words reach the pixels through step 1's
    per-pixel context (F_lav changes with a word), and the words are not
    updated by the image (F_val is the same for two images)."""
    torch.manual_seed(0)
    neck = BidirectionalCrossModalFusion(in_channels=8, text_channels=6,
                                         channels=8, num_blocks=1).eval()
    text, mask = torch.randn(1, 3, 6), torch.ones(1, 3).bool()
    image = torch.randn(1, 8, 2, 2)
    other_text = text.clone()
    other_text[0, 1] += 2.0
    with torch.no_grad():
        lav_a, val_a = neck(image, text, mask)
        _, val_b = neck(torch.randn(1, 8, 2, 2), text, mask)
        lav_c, _ = neck(image, other_text, mask)
    torch.testing.assert_close(val_a, val_b)
    assert (lav_a - lav_c).abs().max() > 1e-2


def test_pyramid_and_resample_shapes_and_values():
    sfp = SimpleFeaturePyramidNeck(in_channels=16, out_channels=8).eval()
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        (fv, ) = sfp((x, ))
        pyramid = SimpleFeaturePyramidNeck(in_channels=16, out_channels=8,
                                           fuse=False)(x)
    assert fv.shape == (2, 8, 8, 8)
    assert [p.shape[-1] for p in pyramid] == [32, 16, 8, 4]
    adapter = FeatureResampleAdapter(in_channels=[4, 8, 16], out_channels=8,
                                     ref_index=1)
    feats = (torch.ones(1, 4, 8, 8), torch.ones(1, 8, 4, 4),
             torch.ones(1, 16, 2, 2))
    outs = adapter(feats)
    assert all(o.shape == (1, 8, 4, 4) for o in outs)
    # a constant map stays constant after area/bilinear resampling
    assert torch.allclose(outs[0], outs[0][..., :1, :1].expand_as(outs[0]))


def test_feature_pyramid_norms_are_sams_layernorm2d():
    """ViTDet's and SAM's LayerNorm2d normalises each pixel over its
    channels; GroupNorm(1, C) (normalising over all pixels too) is not it."""
    torch.manual_seed(0)
    sfp = SimpleFeaturePyramidNeck(in_channels=32, out_channels=16)
    adapter = FeatureResampleAdapter(in_channels=[8, 16], out_channels=16)
    modules = [*sfp.modules(), *adapter.modules()]
    assert not any(isinstance(m, torch.nn.GroupNorm) for m in modules)
    norms = [m for m in modules if isinstance(m, LayerNorm2d)]
    # SFP: 1 in the x4 branch + 2 per level (4 levels); adapter: 1 per level
    assert len(norms) == 9 + 2
    # per-pixel statistics: every pixel has zero mean over channels
    x = torch.randn(2, 16, 5, 7) * 3 + 1
    y = norms[0](x)
    assert y.mean(1).abs().max() < 1e-5
    ref = torch.nn.functional.layer_norm(x.permute(0, 2, 3, 1), (16, ),
                                         eps=1e-6).permute(0, 3, 1, 2)
    torch.testing.assert_close(y, ref, atol=1e-5, rtol=1e-5)
    gn = torch.nn.GroupNorm(1, 16)(x)
    assert (gn - y).abs().max() > 0.1  # the old normalisation differs
