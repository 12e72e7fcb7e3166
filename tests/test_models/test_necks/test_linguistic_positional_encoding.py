"""Fig. 3's linguistic positional encoding in every fusion neck."""
import math

import pytest
import torch

from projects.risam.models.necks import (
    BidirectionalCrossModalFusion,
    MutualAwareFusion,
    SpatialDynamicFusion,
    TransformerEncoderFusion,
)
from projects.risam.models.necks.linguistic_positional_encoding import LinguisticPositionalEncoding

NECKS = {
    'MA': MutualAwareFusion,
    'SDF': SpatialDynamicFusion,
    'BCM': BidirectionalCrossModalFusion,
    'TE': TransformerEncoderFusion,
}


def _neck(name, text_pos_embed):
    torch.manual_seed(0)
    kw = dict(in_channels=6, text_channels=8, channels=8,
              text_pos_embed=text_pos_embed)
    if name == 'TE':
        kw.update(num_heads=2, feedforward_channels=16)
    if name == 'MA':
        kw.update(use_attn_mask=False)
    return NECKS[name](**kw).eval()


def _inputs():
    torch.manual_seed(1)
    visual = torch.randn(2, 6, 3, 4)
    text = torch.randn(2, 6, 8)
    mask = torch.tensor([[True] * 4 + [False] * 2, [True] * 5 + [False]])
    return visual, text, mask


def _permute_real_words(text, mask):
    """Reverse the real words of every sentence; padding stays in place."""
    out = text.clone()
    for b in range(len(text)):
        n = int(mask[b].sum())
        out[b, :n] = text[b, :n].flip(0)
    return out


def test_encoding_values():
    pe = LinguisticPositionalEncoding(channels=8)
    text = torch.zeros(1, 3, 8)
    out = pe(text, torch.tensor([[True, True, False]]))
    # word j, frequency k < 4: sin(j / 10000^(k/4)), then the cosines
    for j in range(2):
        for k in range(4):
            w = 10000**(-k / 4)
            assert out[0, j, k].item() == pytest.approx(math.sin(j * w))
            assert out[0, j, 4 + k].item() == pytest.approx(math.cos(j * w))
    assert torch.equal(out[0, 2], torch.zeros(8))  # padding unchanged
    with pytest.raises(ValueError, match='channels'):
        pe(torch.zeros(1, 3, 6), torch.ones(1, 3, dtype=torch.bool))


@pytest.mark.parametrize('name', list(NECKS))
def test_word_order_reaches_f_lav_only_with_the_switch(name):
    visual, text, mask = _inputs()
    permuted = _permute_real_words(text, mask)
    with torch.no_grad():
        off = _neck(name, False)
        lav, _ = off(visual, text, mask)
        lav_perm, _ = off(visual, permuted, mask)
        # a set of words: the order does not matter
        torch.testing.assert_close(lav_perm, lav, atol=1e-5, rtol=1e-5)
        on = _neck(name, True)
        lav_on, _ = on(visual, text, mask)
        lav_on_perm, _ = on(visual, permuted, mask)
    # same weights with and without the switch (it has no parameters)
    assert sorted(on.state_dict()) == sorted(off.state_dict())
    assert (lav_on_perm - lav_on).abs().max() > 1e-2
    assert (lav_on - lav).abs().max() > 1e-2


@pytest.mark.parametrize('name', list(NECKS))
def test_padding_stays_masked_with_the_encoding(name):
    visual, text, mask = _inputs()
    changed = text.clone()
    changed[~mask] = 50.0
    on = _neck(name, True)
    with torch.no_grad():
        lav, val = on(visual, text, mask)
        lav2, val2 = on(visual, changed, mask)
    torch.testing.assert_close(lav2, lav)
    torch.testing.assert_close(val2[mask], val[mask])


def test_default_is_off():
    assert _neck('MA', False).text_pos_embed is None
    assert MutualAwareFusion(in_channels=4, text_channels=4,
                             channels=4).text_pos_embed is None


def test_word_positions_messages_and_dtype():
    with pytest.raises(ValueError, match='^LinguisticPositionalEncoding '
                       'needs an even number of channels, got 5$'):
        LinguisticPositionalEncoding(channels=5)
    lpe = LinguisticPositionalEncoding(channels=6)
    with pytest.raises(ValueError, match='^word features have 4 channels, '
                       'the encoding 6$'):
        lpe(torch.zeros(1, 3, 4), torch.ones(1, 3, dtype=torch.bool))
    out = lpe(torch.zeros(1, 3, 6, dtype=torch.bfloat16),
              torch.ones(1, 3, dtype=torch.bool))
    assert out.dtype == torch.bfloat16
