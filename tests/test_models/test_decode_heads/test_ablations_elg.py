"""Tab. 5 #10 "w/o ELG": the decoder sees F_lav only, and its query is not a
constant (VLT-style query generation from F_lav)."""
import pytest
import torch

from projects.risam.models import MutualAwareMaskDecoder
from projects.risam.models.decode_heads.visual_query_generation import (
    VisualQueryGeneration,
    coordinate_channels,
)


def _query_weights(dec, lav, val, mask):
    """The MLP output that multiplies the up-sampled map (the mask weights)."""
    got = []
    handle = dec.query_mlp.register_forward_hook(
        lambda module, args, out: got.append(out.detach()))
    try:
        logits = dec(lav, val, mask)
    finally:
        handle.remove()
    return got[0], logits


def _decoder():
    torch.manual_seed(0)
    return MutualAwareMaskDecoder(in_channels=16, num_heads=2,
                                  extra_linguistic_guidance=False).eval()


def test_wo_elg_query_weights_differ_between_inputs():
    dec = _decoder()
    g = torch.Generator().manual_seed(1)
    lav = torch.randn(2, 16, 4, 5, generator=g)
    val = torch.randn(2, 6, 16, generator=g)
    mask = torch.ones(2, 6, dtype=torch.bool)
    weights, logits = _query_weights(dec, lav, val, mask)
    assert weights.shape == (2, 2)  # C / 8 per sample
    # two samples of one batch, and the same sample in another batch
    assert (weights[0] - weights[1]).abs().max() > 1e-3
    other, _ = _query_weights(dec, torch.randn(1, 16, 4, 5, generator=g),
                              val[:1], mask[:1])
    assert (weights[0] - other[0]).abs().max() > 1e-3
    # F_val is not an input of row #10: another sentence's words change
    # nothing, for the same F_lav
    same, same_logits = _query_weights(dec, lav, torch.randn_like(val), mask)
    torch.testing.assert_close(same, weights)
    torch.testing.assert_close(same_logits, logits)


def test_wo_elg_query_is_the_token_plus_an_attention_pool_of_f_lav():
    """F_m = token + sum_p a_p F_lav[p], a a softmax over the pixels."""
    dec = _decoder()
    lav = torch.randn(1, 16, 3, 4)
    qgm = dec.query_generation
    a = qgm.attention(lav)
    assert a.shape == (1, 12)
    torch.testing.assert_close(a.sum(-1), torch.ones(1))
    # by hand for pixel order p = (row, column)
    pooled = sum(a[0, r * 4 + c] * lav[0, :, r, c]
                 for r in range(3) for c in range(4))
    torch.testing.assert_close(qgm(lav)[0], pooled)
    # a constant F_lav pools to itself whatever the attention
    flat = torch.ones(1, 16, 3, 4) * torch.arange(16.)[None, :, None, None]
    torch.testing.assert_close(qgm(flat)[0], torch.arange(16.))


def test_coordinate_channels_are_vlt_coordinates():
    out = coordinate_channels(torch.zeros(1, 2, 2, 3))
    assert out.shape == (1, 4, 2, 3)
    torch.testing.assert_close(out[0, 2], torch.tensor(
        [[-1., 0., 1.], [-1., 0., 1.]]))
    torch.testing.assert_close(out[0, 3], torch.tensor(
        [[-1., -1., -1.], [1., 1., 1.]]))


@pytest.mark.parametrize('elg', [True, False])
def test_query_generation_only_in_row_10(elg):
    dec = MutualAwareMaskDecoder(in_channels=16, num_heads=2,
                                 extra_linguistic_guidance=elg)
    names = {n.split('.')[0] for n, _ in dec.named_parameters()}
    assert ('query_generation' in names) is (not elg)
    if not elg:
        assert isinstance(dec.query_generation, VisualQueryGeneration)
