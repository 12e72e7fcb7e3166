"""SDPA attention equals segment_anything's (fp32, reduced-size encoder)."""
import pytest
import torch
import torch.nn.functional as F

from projects.risam.models.backbones import SAMBackbone
from projects.risam.models.layers.sam_sdpa_attention import SAMSDPAttention

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


def test_sdpa_gets_4d_tensors_and_a_4d_bias_in_the_query_dtype(
        monkeypatch):
    """Every SDPA call of the SAM encoder uses the documented 4-D form:
    ``B x heads x N x d`` and a ``B x heads x N x N`` bias in q's dtype,
    also when the bias is chunked over heads; parity still holds."""
    ref, ours = _pair(max_bias_bytes=1)  # one (batch, head) pair per chunk
    calls = []
    real = F.scaled_dot_product_attention

    def spy(q, k, v, attn_mask=None, **kwargs):
        calls.append((q.shape, k.shape, v.shape, q.dtype,
                      None if attn_mask is None else
                      (attn_mask.shape, attn_mask.dtype)))
        return real(q, k, v, attn_mask=attn_mask, **kwargs)

    monkeypatch.setattr(F, 'scaled_dot_product_attention', spy)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        want, got = ref.encode(x), ours.encode(x)
    # 2 global blocks (2 images x 2 heads) + 2 window blocks (2 images x
    # 16 windows of 4 x 4 tokens, x 2 heads), one (batch, head) pair a call
    assert len(calls) == 2 * 4 + 2 * 64
    for q, k, v, dtype, mask in calls:
        assert len(q) == len(k) == len(v) == 4 and q[:2] == (1, 1)
        assert mask is not None and mask[0] == (*q[:3], k[2])
        assert mask[1] == dtype == torch.float32
    for w, g in zip(want, got):
        assert (w - g).abs().max().item() <= 1e-4


def test_rel_pos_table_equals_segment_anything():
    from segment_anything.modeling.image_encoder import get_rel_pos

    from projects.risam.models.layers.sam_sdpa_attention import rel_pos_table
    torch.manual_seed(0)
    for q_size, k_size, length in ((4, 4, 7), (6, 6, 7), (3, 5, 9)):
        table = torch.randn(length, 8)
        assert torch.equal(rel_pos_table(q_size, k_size, table),
                           get_rel_pos(q_size, k_size, table))


def test_bf16_encoder_on_this_cpu():
    """bf16 (native on this CPU): matmul weights stored in bf16, fp32
    outputs within bf16 accuracy of fp32, the numerics of plain autocast."""
    from projects.risam.models.backbones.encoder_dtype import cpu_has_native_bf16
    if not cpu_has_native_bf16():
        pytest.skip('no native bf16 on this CPU (covered by the fallback)')
    _, ref = _pair()  # SDPA attention, as the bf16 encoder
    bf16 = SAMBackbone(arch=ARCH, out_global_blocks=(0, 1),
                       feature_enhancement=None, encoder_dtype='bf16')
    bf16.encoder.load_state_dict(ref.encoder.state_dict())
    assert bf16.encoder.blocks[0].attn.qkv.weight.dtype == torch.bfloat16
    assert bf16.encoder.blocks[0].norm1.weight.dtype == torch.float32
    assert bf16.fingerprint()['encoder_dtype'] == 'bf16'
    assert 'encoder_dtype' not in ref.fingerprint()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        want = ref.encode(x)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            auto = ref.encode(x)  # fp32 pinned: autocast does not reach it
        got = bf16.encode(x)
        ref.encoder_dtype = 'bf16'  # plain autocast over fp32 weights
        plain = ref.encode(x)
    for w, a, g, p in zip(want, auto, got, plain):
        assert g.dtype == torch.float32 and torch.equal(w, a)
        rel = ((g - w).abs().max() / w.abs().max()).item()
        assert 1e-5 < rel < 3e-2, rel  # bf16, not fp32, and close
        assert torch.allclose(g, p, atol=1e-6)


def test_bf16_falls_back_to_fp32_without_native_bf16(monkeypatch):
    from projects.risam.models.backbones import encoder_dtype
    monkeypatch.setattr(encoder_dtype, 'cpu_has_native_bf16', lambda: False)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    # the log line, read where it is written (mmengine's logger keeps the
    # stream it was created with, which capsys may not see in a full run)
    logged = []
    monkeypatch.setattr(encoder_dtype, 'print_log',
                        lambda msg, **kwargs: logged.append(msg))
    ref, _ = _pair()
    bf16 = SAMBackbone(arch=ARCH, out_global_blocks=(0, 1),
                       feature_enhancement=None, encoder_dtype='bf16',
                       attn_impl='sam')
    assert any('falls back to fp32' in m for m in logged), logged
    assert bf16.encoder_dtype == 'fp32'
    bf16.encoder.load_state_dict(ref.encoder.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(ref.encode(x), bf16.encode(x)):
            assert b.dtype == torch.float32 and torch.equal(a, b)
    with pytest.raises(ValueError, match='encoder_dtype'):
        SAMBackbone(arch=ARCH, encoder_dtype='fp16')
