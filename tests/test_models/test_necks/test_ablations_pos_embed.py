"""The fusion rows (Tab. 2 #2, Tab. 3 #5-#8) keep the reference row's
linguistic positional encoding, so each differs from RISAM in its fusion
only. Every fusion neck has the switch and applies it to the words before
the fusion."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.utils import import_modules_from_strings
from mmseg.registry import MODELS

from projects.risam.models.necks.linguistic_positional_encoding import LinguisticPositionalEncoding

CONFIGS = Path('configs/risam')
FUSION_ROWS = sorted(p.name for p in (CONFIGS / 'ablations').glob(
    'risam-tab[23]-*.py') if p.name.startswith(('risam-tab2-2', 'risam-tab3')))
NECKS = {'tab2-2': 'ConcatConvFusion', 'tab3-5': 'TransformerEncoderFusion',
         'tab3-6': 'SpatialDynamicFusion',
         'tab3-7': 'BidirectionalCrossModalFusion',
         'tab3-8': 'MutualAwareFusion'}


def test_every_fusion_row_and_dataset_is_checked():
    rows = {n.split('-')[1] + '-' + n.split('-')[2] for n in FUSION_ROWS}
    assert rows == set(NECKS) and len(FUSION_ROWS) == 15  # x 3 datasets


@pytest.mark.parametrize('name', FUSION_ROWS)
def test_fusion_row_keeps_the_linguistic_positional_encoding(name):
    cfg = Config.fromfile(str(CONFIGS / 'ablations' / name))
    dataset = name.rsplit('_', 1)[1]
    reference = Config.fromfile(str(CONFIGS / f'risam_sam-vit-h_8xb4-50e_'
                                    f'{dataset}'))
    assert reference.model.neck.text_pos_embed is True  # the MA row
    neck_cfg = cfg.model.neck
    assert neck_cfg.type == 'risam.' + NECKS[name[6:12]]
    assert neck_cfg.text_pos_embed is True
    import_modules_from_strings(**cfg.custom_imports)
    init_default_scope(cfg.default_scope)
    small = dict(neck_cfg.to_dict(), in_channels=8, text_channels=8,
                 channels=8)
    neck = MODELS.build(small)
    assert isinstance(neck.text_pos_embed, LinguisticPositionalEncoding)


@pytest.mark.parametrize('neck', sorted(set(NECKS.values())))
def test_switch_adds_the_encoding_to_the_words_before_the_fusion(neck):
    """Same weights, with and without the switch: feeding the encoded words
    to the switch-off neck gives the switch-on neck's outputs."""
    init_default_scope('mmseg')
    import projects.risam  # noqa: F401
    kw = dict(type=f'risam.{neck}', in_channels=8, text_channels=6,
              channels=8)
    torch.manual_seed(0)
    on = MODELS.build(dict(kw, text_pos_embed=True)).eval()
    off = MODELS.build(dict(kw, text_pos_embed=False)).eval()
    off.load_state_dict(on.state_dict())
    default = MODELS.build(kw)
    assert default.text_pos_embed is None  # module default unchanged
    g = torch.Generator().manual_seed(1)
    visual = torch.randn(2, 8, 3, 3, generator=g)
    text = torch.randn(2, 4, 6, generator=g)
    mask = torch.tensor([[True, True, True, False], [True, True, False,
                                                     False]])
    # P[j] = [sin(j w_0..2), cos(j w_0..2)], w_k = 10000^(-2k/6), real words
    j = torch.arange(4.)[:, None]
    w = 10000 ** (-torch.arange(0, 6, 2) / 6)
    pos = torch.cat([torch.sin(j * w), torch.cos(j * w)], -1)
    encoded = text + pos * mask[..., None]
    with torch.no_grad():
        got = on(visual, text, mask)
        want = off(visual, encoded, mask)
        plain = off(visual, text, mask)
    for g_, w_ in zip(got, want):
        torch.testing.assert_close(g_, w_)
    assert not torch.allclose(got[0], plain[0])  # word order reaches F_lav
