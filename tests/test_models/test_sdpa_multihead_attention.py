"""SDPAMultiheadAttention: nn.MultiheadAttention's function and weights, but
never its fused inference fast path."""
import pytest
import torch
from torch import nn

from projects.risam.models.layers import SDPAMultiheadAttention


def _pair(seed=0):
    torch.manual_seed(seed)
    ref = nn.MultiheadAttention(32, 4, batch_first=True)
    ours = SDPAMultiheadAttention(32, 4)
    ours.load_state_dict(ref.state_dict(), strict=True)  # same keys
    return ref, ours


@pytest.mark.parametrize('train', [True, False])
def test_equals_nn_multihead_attention(train):
    ref, ours = _pair()
    ref.train(train)
    ours.train(train)
    torch.manual_seed(1)
    x = torch.randn(3, 50, 32)  # self-attention: the fast-path case
    words = torch.randn(3, 7, 32)
    pad = torch.zeros(3, 7, dtype=torch.bool)
    pad[1, 4:] = True
    with torch.set_grad_enabled(train):
        for q, kv, mask in ((x, x, None), (x, words, pad), (words, x, None)):
            want = ref(q, kv, kv, key_padding_mask=mask, need_weights=False)[0]
            got = ours(q, kv, kv, key_padding_mask=mask, need_weights=False)[0]
            torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    # weights requested: the module's own path, weights included
    want_w = ref(words, x, x)[1]
    got_w = ours(words, x, x)[1]
    torch.testing.assert_close(got_w, want_w)


def test_inference_never_takes_the_fused_fast_path(monkeypatch):
    ref, ours = _pair()
    ref.eval()
    ours.eval()
    calls = []
    native = torch._native_multi_head_attention

    def spy(*args, **kwargs):
        calls.append(1)
        return native(*args, **kwargs)

    monkeypatch.setattr(torch, '_native_multi_head_attention', spy)
    x = torch.randn(2, 64, 32)
    with torch.no_grad():
        ref(x, x, x, need_weights=False)
        assert calls == [1]  # the plain module takes it here
        ours(x, x, x, need_weights=False)
    assert calls == [1]


def test_rejects_what_it_does_not_implement():
    with pytest.raises(ValueError, match='batch first'):
        SDPAMultiheadAttention(32, 4, batch_first=False)
    with pytest.raises(ValueError, match='kdim'):
        SDPAMultiheadAttention(32, 4, kdim=16)
