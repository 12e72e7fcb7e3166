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


@pytest.mark.parametrize('with_padding', [False, True])
def test_query_blocks_equal_nn_multihead_attention(with_padding):
    """The export's written-out attention, in uneven blocks of queries,
    is ``nn.MultiheadAttention`` at eval (padding keys ignored)."""
    ref, ours = _pair()
    ref.eval()
    ours.eval()
    torch.manual_seed(2)
    x = torch.randn(3, 50, 32)
    words = torch.randn(3, 7, 32)
    pad = None
    if with_padding:
        pad = torch.zeros(3, 7, dtype=torch.bool)
        pad[1, 4:] = True
    ours.export_block_bytes = 4 * 7 * 4 * 12  # 12 queries per block
    with torch.no_grad():
        for q, kv, mask in ((x, x, None), (x, words, pad)):
            want = ref(q, kv, kv, key_padding_mask=mask,
                       need_weights=False)[0]
            got = ours._attend_in_blocks(q, kv, kv, mask)
            torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_exported_attention_is_bounded_and_equal(tmp_path):
    """In an ONNX export every Softmax holds one block of queries (at most
    ``export_block_bytes`` of weights per sentence), and onnxruntime gives
    the eager module's output. (The dynamic number of sentences is
    exercised by the decoder graph's tests; a static one here lets ONNX
    infer every shape.)"""
    onnx = pytest.importorskip('onnx')
    ort = pytest.importorskip('onnxruntime')
    _, ours = _pair()
    ours.eval()
    keys = 64
    ours.export_block_bytes = 4 * keys * 4 * 16  # 16 of the 64 queries

    class SelfAttention(nn.Module):
        def __init__(self, attn):
            super().__init__()
            self.attn = attn

        def forward(self, x):
            return self.attn(x, x, x, need_weights=False)[0]

    module = SelfAttention(ours)
    path = str(tmp_path / 'attn.onnx')
    with torch.no_grad():
        torch.onnx.export(module, (torch.randn(2, keys, 32), ), path,
                          input_names=['x'], output_names=['y'],
                          opset_version=17, dynamo=False)
    graph = onnx.shape_inference.infer_shapes(onnx.load(path)).graph
    shapes = {v.name: [d.dim_value or d.dim_param for d in
                       v.type.tensor_type.shape.dim]
              for v in list(graph.value_info) + list(graph.output)}
    softmax = [shapes[n.output[0]] for n in graph.node
               if n.op_type == 'Softmax']
    assert len(softmax) == 4
    assert all(s == [2, 4, 16, keys] for s in softmax), softmax
    x = torch.randn(2, keys, 32)
    got = ort.InferenceSession(path, providers=['CPUExecutionProvider']).run(
        None, dict(x=x.numpy()))[0]
    with torch.no_grad():
        want = module(x)
    torch.testing.assert_close(torch.from_numpy(got), want, atol=1e-5,
                               rtol=1e-5)
