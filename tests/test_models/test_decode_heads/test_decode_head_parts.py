"""Decode-head details that mutation testing found unguarded.

- ``SAMMaskDecoderHead`` (Tab. 2 #3, Tab. 11) was only compared with
  itself: here it is compared with ``segment_anything``'s prompt encoder and
  mask decoder at SAM's own sizes, on an official-layout checkpoint; its
  strict loading, its one-line checkpoint errors and its frozen set are
  checked.
- ``VisualQueryGeneration`` (Tab. 5 #10): VLT's layer stack, the documented
  parameter count, and the query ``F_m = token + q(F_lav)`` that reaches
  the first decoder layer.
- Every attention of the decoder takes the fused path (no attention weights
  asked for); dtype and device of the tensors built inside ``forward``
  follow the input (bf16, and the ``meta`` device as a stand-in for a GPU:
  a tensor made on the CPU cannot be mixed with it).
- ``init_cfg`` reaches mmengine; the no-target head's defaults and edges.
"""
import pytest
import torch
import torch.nn.functional as F
from segment_anything.modeling import MaskDecoder, PromptEncoder, TwoWayTransformer

from projects.risam.models import MutualAwareMaskDecoder
from projects.risam.models.decode_heads import SAMMaskDecoderHead
from projects.risam.models.decode_heads.no_target_head import NoTargetHead
from projects.risam.models.decode_heads.sam_mask_decoder_head import load_sam_decoder_state
from projects.risam.models.decode_heads.visual_query_generation import (
    VisualQueryGeneration,
    coordinate_channels,
)
from projects.risam.utils.checkpoint import CheckpointError


def _sam_parts(seed=0):
    """SAM's prompt encoder and mask decoder as ``build_sam`` makes them
    (prompt dim 256), on a 4 x 4 image embedding."""
    torch.manual_seed(seed)
    pe = PromptEncoder(embed_dim=256, image_embedding_size=(4, 4),
                       input_image_size=(64, 64), mask_in_chans=16)
    md = MaskDecoder(
        num_multimask_outputs=3,
        transformer=TwoWayTransformer(depth=2, embedding_dim=256,
                                      mlp_dim=2048, num_heads=8),
        transformer_dim=256, iou_head_depth=3, iou_head_hidden_dim=256)
    with torch.no_grad():  # SAM zero-initialises nothing that matters here
        pe.no_mask_embed.weight.normal_()
    return pe.eval(), md.eval()


def _official_file(tmp_path, pe, md, drop=()):
    state = {'image_encoder.patch_embed.proj.weight': torch.zeros(1)}
    state.update({'prompt_encoder.' + k: v
                  for k, v in pe.state_dict().items()})
    state.update({'mask_decoder.' + k: v
                  for k, v in md.state_dict().items()})
    for k in drop:
        del state[k]
    path = tmp_path / 'sam_vit_x.pth'
    torch.save(state, path)
    return str(path)


def test_sam_head_is_sams_decoder_on_sams_prompts(tmp_path):
    """With SAM's point-prompt tokens as the "words", the head at its
    default sizes gives SAM's single-mask output for those points."""
    pe, md = _sam_parts()
    head = SAMMaskDecoderHead(
        checkpoint=_official_file(tmp_path, pe, md)).eval()
    torch.manual_seed(1)
    lav = torch.randn(2, 256, 4, 4)
    points = [(torch.tensor([[[10., 20.]]]), torch.tensor([[1]])),
              (torch.tensor([[[40., 8.], [30., 50.]]]),
               torch.tensor([[1, 0]]))]
    with torch.no_grad():
        sparse = [pe(points=p, boxes=None, masks=None) for p in points]
        refs = [md(image_embeddings=lav[i:i + 1],
                   image_pe=pe.get_dense_pe(),
                   sparse_prompt_embeddings=sparse[i][0],
                   dense_prompt_embeddings=sparse[i][1],
                   multimask_output=False)[0] for i in range(2)]
        n = [s[0].shape[1] for s in sparse]  # 2 and 3 tokens (SAM pads)
        val = torch.zeros(2, max(n), 256)
        mask = torch.zeros(2, max(n), dtype=torch.bool)
        for i in range(2):
            val[i, :n[i]] = sparse[i][0][0]
            mask[i, :n[i]] = True
        got = head(lav, val, mask)
    assert got.shape == (2, 1, 16, 16)
    torch.testing.assert_close(got, torch.cat(refs), atol=1e-4, rtol=1e-4)
    assert (refs[0] - refs[1]).abs().max() > 0.1


def test_sam_head_loads_strictly_and_explains_bad_files(tmp_path):
    pe, md = _sam_parts()
    missing = _official_file(tmp_path, pe, md,
                             drop=['mask_decoder.iou_token.weight'])
    with pytest.raises(RuntimeError, match='iou_token'):
        SAMMaskDecoderHead(checkpoint=missing)
    no_decoder = tmp_path / 'encoder_only.pth'
    torch.save({'prompt_encoder.no_mask_embed.weight': torch.zeros(1, 256),
                'image_encoder.x': torch.zeros(1)}, no_decoder)
    with pytest.raises(CheckpointError,
                       match=r'encoder_only.pth: not an official SAM '
                       r'checkpoint \(no mask_decoder\.\* entries\)'):
        load_sam_decoder_state(str(no_decoder))
    key = 'prompt_encoder.no_mask_embed.weight'
    no_prompt = _official_file(tmp_path, pe, md, drop=[key])
    with pytest.raises(CheckpointError,
                       match=rf'not an official SAM checkpoint \(no {key} '
                       r'entries\)'):
        load_sam_decoder_state(no_prompt)


def test_sam_head_trains_exactly_what_reaches_the_mask():
    """Frozen: SAM's no_mask_embed, IoU head and the hyper-network MLPs of
    the three multi-mask tokens. Every trainable parameter gets a gradient
    (none unused under DDP)."""
    torch.manual_seed(0)
    head = SAMMaskDecoderHead(in_channels=32, num_heads=2, mlp_dim=64,
                              iou_head_hidden_dim=32)
    frozen = {n.split('.weight')[0].split('.bias')[0].split('.layers')[0]
              for n, p in head.named_parameters() if not p.requires_grad}
    assert frozen == {'no_mask_embed', 'mask_decoder.iou_prediction_head',
                      'mask_decoder.output_hypernetworks_mlps.1',
                      'mask_decoder.output_hypernetworks_mlps.2',
                      'mask_decoder.output_hypernetworks_mlps.3'}
    lav, val = torch.randn(2, 32, 4, 4), torch.randn(2, 3, 32)
    mask = torch.tensor([[True, True, False], [True, True, True]])
    gt = (torch.rand(2, 16, 16) > 0.5).long()
    loss = sum(head.loss_by_feat(head(lav, val, mask), gt).values())
    loss.backward()
    no_grad = [n for n, p in head.named_parameters()
               if p.requires_grad and p.grad is None]
    assert no_grad == []


def test_query_generation_is_vlts_stack_at_the_documented_size():
    vqg = VisualQueryGeneration(channels=256)
    # the class docstring: 1,799,035 parameters at C = 256
    assert sum(p.numel() for p in vqg.parameters()) == 1_799_035
    kinds = [type(m).__name__ for m in vqg.convs]
    assert kinds == ['Conv2d', 'BatchNorm2d', 'LeakyReLU'] * 3
    assert all(m.bias is None for m in vqg.convs
               if isinstance(m, torch.nn.Conv2d))
    assert {m.negative_slope for m in vqg.convs
            if isinstance(m, torch.nn.LeakyReLU)} == {0.1}


def test_row_10_query_is_token_plus_pooled_lav():
    """Tab. 5 #10: the first layer receives ``F_m = token + q(F_lav)``."""
    torch.manual_seed(0)
    dec = MutualAwareMaskDecoder(in_channels=16, num_heads=2,
                                 extra_linguistic_guidance=False).eval()
    seen = []
    dec.layers[0].register_forward_pre_hook(
        lambda mod, args: seen.append(args[1].clone()))
    lav = torch.randn(2, 16, 3, 4)
    with torch.no_grad():
        dec(lav, torch.randn(2, 3, 16), torch.ones(2, 3, dtype=torch.bool))
        want = dec.query_token + dec.query_generation(lav)[:, None]
    torch.testing.assert_close(seen[0], want)
    assert dec.query_generation(lav).abs().max() > 0.05


def test_every_decoder_attention_takes_the_fused_path(monkeypatch):
    """No attention of the decoder asks for its weights: that would leave
    the fused SDPA kernel for the explicit softmax (SDPAMultiheadAttention).
    With TOI-A on, 4 attentions per layer."""
    calls = []
    real = F.multi_head_attention_forward

    def spy(*args, **kwargs):
        calls.append(kwargs.get('need_weights', True))
        return real(*args, **kwargs)

    monkeypatch.setattr(F, 'multi_head_attention_forward', spy)
    torch.manual_seed(0)
    dec = MutualAwareMaskDecoder(in_channels=16, num_heads=2,
                                 token_to_image_attn=True,
                                 image_pos_embed=True)
    dec(torch.randn(2, 16, 3, 4), torch.randn(2, 3, 16),
        torch.ones(2, 3, dtype=torch.bool))
    assert calls == [False] * 8


def test_decoder_follows_the_input_dtype_and_device():
    torch.manual_seed(0)
    kw = dict(in_channels=16, num_heads=2, image_pos_embed=True)
    dec = MutualAwareMaskDecoder(**kw).eval()
    lav, val = torch.randn(2, 16, 3, 4), torch.randn(2, 3, 16)
    mask = torch.tensor([[True, True, False], [True] * 3])
    with torch.no_grad():
        ref = dec(lav, val, mask)
        half = dec.to(torch.bfloat16)(lav.bfloat16(), val.bfloat16(), mask)
    assert half.dtype == torch.bfloat16
    torch.testing.assert_close(half.float(), ref, atol=0.1, rtol=0.05)
    # tensors made inside forward (padding flags, positions, coordinates)
    # are made on the input's device
    for elg in (True, False):
        with torch.device('meta'):
            meta = MutualAwareMaskDecoder(
                **kw, extra_linguistic_guidance=elg).eval()
        out = meta(lav.to('meta'), val.to('meta'), mask.to('meta'))
        assert out.device.type == 'meta' and out.shape == (2, 1, 12, 16)


def test_coordinates_follow_the_input_dtype_and_device():
    x = torch.zeros(1, 2, 2, 3, dtype=torch.bfloat16)
    out = coordinate_channels(x)
    assert out.dtype == torch.bfloat16
    assert out[0, 2, 0].tolist() == [-1.0, 0.0, 1.0]
    assert coordinate_channels(x.to('meta')).device.type == 'meta'


@pytest.mark.parametrize('kind', ['risam', 'sam'])
def test_init_cfg_reaches_mmengine(kind):
    init_cfg = dict(type='Constant', layer='Linear', val=0.25, bias=0.0)
    if kind == 'risam':
        head = MutualAwareMaskDecoder(in_channels=16, num_heads=2,
                                      init_cfg=init_cfg)
        linear = head.query_mlp[0]
    else:
        head = SAMMaskDecoderHead(in_channels=32, num_heads=2, mlp_dim=64,
                                  iou_head_hidden_dim=32, init_cfg=init_cfg)
        linear = head.mask_decoder.output_hypernetworks_mlps[0].layers[0]
    head.init_weights()
    assert torch.all(linear.weight == 0.25)


def test_decoder_defaults_are_the_documented_sizes():
    """2 layers of 8 heads at C = 256 (SAM's decoder sizes), and the query
    token stored as 1 x 1 x C, the layout of saved checkpoints."""
    dec = MutualAwareMaskDecoder()
    assert len(dec.layers) == 2
    assert dec.layers[0].cross_attn.num_heads == 8
    assert dec.query_token.shape == (1, 1, 256)
    assert dec.query_mlp[-1].out_features == 32


def test_no_target_head_defaults_and_threshold_edge():
    head = NoTargetHead(channels=8)
    c = 8
    assert sum(p.numel() for p in head.parameters()) == 2 * c + c + 1
    token = torch.randn(3, c)
    with torch.no_grad():
        s = head(token)
        ln = F.layer_norm(token, (c, ), head.norm.weight, head.norm.bias)
        torch.testing.assert_close(
            s, (ln @ head.fc.weight.T + head.fc.bias)[:, 0])
    gt = torch.zeros(3, 4, 4, dtype=torch.long)
    gt[0, 1, 1] = 1
    loss = head.loss(s, gt)['loss_no_target']  # weight 1 by default
    torch.testing.assert_close(loss, F.binary_cross_entropy_with_logits(
        s, torch.tensor([0., 1., 1.])))
    # bf16 scores: the loss stays in bf16 (the labels follow the scores)
    assert head.loss(s.bfloat16(), gt)['loss_no_target'].dtype == \
        torch.bfloat16
    # p_none exactly at the threshold is not "nothing" (strictly above)
    logits = torch.full((1, 1, 2, 2), 3.0)
    assert torch.equal(head.suppress(logits, torch.zeros(1)), logits)


def test_no_target_loss_needs_a_forward_first():
    dec = MutualAwareMaskDecoder(in_channels=16, num_heads=2,
                                 no_target_head={})
    with pytest.raises(RuntimeError, match='^loss_by_feat before any '
                       'forward$'):
        dec.loss_by_feat(torch.zeros(1, 1, 4, 4),
                         torch.zeros(1, 4, 4, dtype=torch.long))


def test_no_target_score_reads_the_query_token():
    """The score is read from the same evolved token F_m^ as the mask
    weights (the MLP's input), not from a word."""
    torch.manual_seed(0)
    dec = MutualAwareMaskDecoder(in_channels=16, num_heads=2,
                                 no_target_head={}).eval()
    seen = []
    dec.query_mlp.register_forward_pre_hook(
        lambda mod, args: seen.append(args[0].clone()))
    with torch.no_grad():
        dec(torch.randn(2, 16, 3, 4), torch.randn(2, 3, 16),
            torch.ones(2, 3, dtype=torch.bool))
        want = dec.no_target_head(seen[0])
    torch.testing.assert_close(dec.no_target_logits, want)
