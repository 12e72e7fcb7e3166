"""SAMBackbone: parity with segment_anything, freezing, FE, position init."""
from functools import partial

import pytest
import torch
from segment_anything import sam_model_registry
from segment_anything.modeling import ImageEncoderViT
from torch import nn

from projects.risam.models import FeatureEnhancement, SAMBackbone

SMALL = dict(img_size=64, patch_size=8, embed_dim=32, depth=5, num_heads=2,
             window_size=4, global_attn_indexes=(0, 1, 3, 4))


def _randomise_zero_inits(encoder: nn.Module) -> None:
    """SAM zero-inits pos_embed and rel-pos tables: fill them so parity
    checks them too."""
    for name, p in encoder.named_parameters():
        if 'pos' in name:
            p.data.normal_(std=0.5)


def _block_output(encoder, index, x):
    out = {}
    handle = encoder.blocks[index].register_forward_hook(
        lambda m, i, o: out.setdefault('x', o))
    with torch.no_grad():
        encoder(x)
    handle.remove()
    return out['x'].permute(0, 3, 1, 2)


def test_parity_reduced_encoder(tmp_path):
    ref = ImageEncoderViT(
        **{k: SMALL[k] for k in SMALL if k != 'global_attn_indexes'},
        global_attn_indexes=SMALL['global_attn_indexes'], use_rel_pos=True,
        norm_layer=partial(nn.LayerNorm, eps=1e-6), out_chans=16).eval()
    _randomise_zero_inits(ref)
    path = tmp_path / 'sam_small.pth'
    torch.save({f'image_encoder.{k}': v for k, v in ref.state_dict().items()},
               path)
    bb = SAMBackbone(arch=dict(SMALL, out_chans=16), checkpoint=str(path),
                     feature_enhancement=None)
    x = torch.randn(2, 3, 64, 64)
    outs = bb(x)
    assert len(outs) == 3 and bb.out_indices == (1, 3, 4)
    for out, idx in zip(outs, bb.out_indices):
        diff = (out - _block_output(ref, idx, x)).abs().max().item()
        assert diff <= 1e-5, (idx, diff)
    assert outs[-1].shape == (2, 32, 8, 8)


@pytest.mark.slow
def test_parity_vit_b_true_size(tmp_path):
    sam = sam_model_registry['vit_b']()
    _randomise_zero_inits(sam.image_encoder)
    path = tmp_path / 'sam_vit_b_random.pth'
    torch.save(sam.state_dict(), path)  # official layout: image_encoder.*
    bb = SAMBackbone(arch='vit_b', checkpoint=str(path),
                     feature_enhancement=None)
    x = torch.randn(1, 3, 1024, 1024)
    last = bb(x)[-1]
    ref = _block_output(sam.image_encoder.eval(), 11, x)
    assert last.shape == (1, 768, 64, 64)
    assert (last - ref).abs().max().item() <= 1e-5


def test_frozen_encoder_stays_eval_and_gradless():
    bb = SAMBackbone(arch=SMALL, feature_enhancement=dict(out_channels=16))
    bb.train()
    assert not bb.encoder.training and bb.feature_enhancement.training
    assert not any(p.requires_grad for p in bb.encoder.parameters())
    assert all(p.requires_grad for p in bb.feature_enhancement.parameters())
    out = bb(torch.randn(2, 3, 64, 64))[0]
    assert out.shape == (2, 16, 8, 8)
    out.sum().backward()
    assert all(p.grad is None for p in bb.encoder.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0
               for p in bb.feature_enhancement.parameters())


def test_unused_blocks_and_neck_dropped():
    bb = SAMBackbone(arch=dict(SMALL, global_attn_indexes=(0, 1, 2, 3)),
                     feature_enhancement=None)
    assert len(bb.encoder.blocks) == 4  # block 4 is never tapped
    assert isinstance(bb.encoder.neck, nn.Identity)


def test_sincos_pos_embed_makes_random_encoder_position_aware():
    x = torch.zeros(1, 3, 64, 64)  # constant image: only position varies
    blind = SAMBackbone(arch=SMALL, feature_enhancement=None)(x)[-1]
    torch.manual_seed(0)
    aware = SAMBackbone(arch=SMALL, feature_enhancement=None,
                        init_pos_embed='sincos')(x)[-1]
    # zero position embedding: every token of a constant image is identical
    assert blind.std(dim=(2, 3)).max().item() < 1e-5
    assert aware.std(dim=(2, 3)).mean().item() > 1e-2


def test_feature_enhancement_matches_eq1_eq2():
    fe = FeatureEnhancement(in_channels=8, out_channels=4, num_levels=3)
    fe.eval()
    f1, f2, f3 = (torch.randn(2, 8, 5, 5) for _ in range(3))
    f_hat = fe.cbas[0](torch.cat([fe.level_mlps[0](f1),
                                  fe.level_mlps[1](f2)], 1))
    f_v = fe.cbas[1](torch.cat([fe.fused_mlps[0](f_hat),
                                fe.level_mlps[2](f3)], 1))
    torch.testing.assert_close(fe([f1, f2, f3]), f_v)
    # the point-wise MLP equals a per-pixel Linear-GELU-Linear
    mlp = fe.level_mlps[0]
    pix = f1[0, :, 2, 3]
    torch.testing.assert_close(mlp(f1)[0, :, 2, 3],
                               mlp.fc2(nn.functional.gelu(mlp.fc1(pix))))
