"""SDPA attention equals segment_anything's (fp32, reduced-size encoder)."""
import pytest
import torch

from projects.risam.models.backbones import SAMBackbone
from projects.risam.models.layers.sam_sdpa_attention import \
    SAMSDPAttention

ARCH = dict(img_size=64, patch_size=4, embed_dim=32, depth=4, num_heads=2,
            window_size=4, global_attn_indexes=(1, 3))


def _pair(**sdpa_kwargs):
    ref = SAMBackbone(arch=ARCH, out_global_blocks=(0, 1),
                      feature_enhancement=None, init_pos_embed='sincos',
                      attn_impl='sam')
    with torch.no_grad():  # non-zero rel-pos tables, or the bias is trivial
        for n, p in ref.encoder.named_parameters():
            if 'rel_pos' in n:
                p.normal_(0, 0.5)
    ours = SAMBackbone(arch=ARCH, out_global_blocks=(0, 1),
                       feature_enhancement=None, attn_impl='sdpa')
    ours.encoder.load_state_dict(ref.encoder.state_dict(), strict=True)
    for blk in ours.encoder.blocks:
        for k, v in sdpa_kwargs.items():
            setattr(blk.attn, k, v)
    return ref, ours


@pytest.mark.parametrize('max_bias_bytes', [64 * 2**20, 1])
def test_sdpa_matches_segment_anything(max_bias_bytes):
    ref, ours = _pair(max_bias_bytes=max_bias_bytes)
    assert all(isinstance(b.attn, SAMSDPAttention)
               for b in ours.encoder.blocks)
    assert not any(isinstance(b.attn, SAMSDPAttention)
                   for b in ref.encoder.blocks)
    assert set(ref.state_dict()) == set(ours.state_dict())
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        want, got = ref.encode(x), ours.encode(x)
    assert len(got) == 2
    for w, g in zip(want, got):
        assert g.shape == w.shape == (2, 32, 16, 16)
        diff = (w - g).abs().max().item()
        assert diff <= 1e-4, diff
        assert w.abs().max() > 0.1  # not a degenerate comparison


def test_bad_attn_impl_is_refused():
    with pytest.raises(ValueError, match="attn_impl"):
        SAMBackbone(arch=ARCH, attn_impl='flash')


def test_bf16_option_is_fp32_on_cpu():
    ref, _ = _pair()
    bf16 = SAMBackbone(arch=ARCH, out_global_blocks=(0, 1),
                       feature_enhancement=None, encoder_dtype='bf16',
                       attn_impl='sam')
    bf16.encoder.load_state_dict(ref.encoder.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(ref.encode(x), bf16.encode(x)):
            assert b.dtype == torch.float32 and torch.equal(a, b)
    with pytest.raises(ValueError, match='encoder_dtype'):
        SAMBackbone(arch=ARCH, encoder_dtype='fp16')
