"""CLIPTokenEncoder: parity with open_clip, mask, truncation, freezing."""
import open_clip
import pytest
import torch
from open_clip.model import CLIP

from projects.risam.models import CLIPTokenEncoder

TINY = dict(embed_dim=32,
            text_cfg=dict(context_length=77, vocab_size=49408, width=32,
                          heads=2, layers=2))
TEXTS = ['the man in red on the left', 'dog',
         'a very long sentence that certainly has more than seventeen '
         'tokens after byte pair encoding so it must be truncated here']


def _reference(model, ids, width):
    """open_clip pooled (encode_text) and ln_final states on ids padded to
    the full context."""
    full = torch.zeros(len(ids), 77, dtype=torch.long)
    full[:, :ids.shape[1]] = ids
    states = {}
    handle = model.ln_final.register_forward_hook(
        lambda m, i, o: states.setdefault('x', o))
    with torch.no_grad():
        pooled = model.encode_text(full)
    handle.remove()
    return states['x'][:, :ids.shape[1]], pooled


def _check_parity(model, enc):
    ids = enc.tokenize(TEXTS)
    tokens, mask = enc(TEXTS)
    pooled = enc.pool(tokens, ids)
    ref_tokens, ref_pooled = _reference(model, ids, enc.width)
    assert (pooled - ref_pooled).abs().max().item() <= 1e-5
    # compare real tokens (padding positions are masked downstream)
    diff = (tokens - ref_tokens).abs()[mask].max().item()
    assert diff <= 1e-5
    assert (tokens - ref_tokens).abs().max().item() <= 1e-5


def test_parity_tiny_open_clip(tmp_path):
    model = CLIP(embed_dim=32,
                 vision_cfg=dict(image_size=32, layers=1, width=64, head_width=32,
                                 patch_size=16),
                 text_cfg=TINY['text_cfg']).eval()
    path = tmp_path / 'open_clip_tiny.bin'
    torch.save(model.state_dict(), path)
    enc = CLIPTokenEncoder(model_cfg=TINY, pretrained=str(path),
                           max_tokens=17)
    _check_parity(model, enc)


@pytest.mark.slow
def test_parity_vit_b_16(tmp_path):
    model = open_clip.create_model('ViT-B-16', pretrained=None).eval()
    path = tmp_path / 'vit_b_16.bin'
    torch.save(model.state_dict(), path)
    enc = CLIPTokenEncoder(model_name='ViT-B-16', pretrained=str(path),
                           max_tokens=25)
    assert enc.width == 512
    _check_parity(model, enc)


def test_mask_and_truncation():
    enc = CLIPTokenEncoder(model_cfg=TINY, max_tokens=17)
    ids = enc.tokenize(TEXTS)
    tokens, mask = enc(TEXTS)
    assert tokens.shape == (3, 17, 32)
    sot, eot = 49406, 49407
    assert (ids[:, 0] == sot).all()
    # 'dog' = SOT dog EOT -> 3 real tokens; the long one fills all 17
    assert mask.sum(1).tolist() == [len(enc.tokenizer.encode(TEXTS[0])) + 2,
                                    3, 17]
    assert ids[2, -1].item() == eot
    assert (ids[~mask] == 0).all()


def test_frozen_and_trainable_modes():
    enc = CLIPTokenEncoder(model_cfg=TINY, max_tokens=8)
    enc.train()
    assert not enc.text.training
    assert not any(p.requires_grad for p in enc.parameters())
    tokens, _ = enc(['a cat'])
    assert not tokens.requires_grad

    enc = CLIPTokenEncoder(model_cfg=TINY, max_tokens=8, frozen=False)
    enc.train()
    assert enc.text.training
    tokens, mask = enc(['a cat', 'two dogs on grass'])
    # a plain sum of layer-normed features has zero gradient: weight it
    weights = torch.randn(tokens[mask].shape,
                          generator=torch.Generator().manual_seed(0))
    (tokens[mask] * weights).sum().backward()
    blocks = enc.text.transformer.resblocks
    assert blocks[0].attn.in_proj_weight.grad.abs().sum() > 0
    # the projection feeds only the pooled feature: frozen, so DDP needs no
    # find_unused_parameters
    trainable = {n for n, p in enc.named_parameters() if p.requires_grad}
    assert 'text.text_projection' not in trainable
    assert all(p.grad is not None for n, p in enc.named_parameters()
               if p.requires_grad)
