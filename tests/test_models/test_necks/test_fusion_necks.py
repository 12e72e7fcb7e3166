"""What every fusion neck shares (the block stack's contract): the
documented defaults (``C = 256``, two blocks or layers, the last backbone
output, no word positions), ``init_cfg`` reaching mmengine,
``text_pos_embed`` adding Fig. 3's encoding to the words before the fusion,
the stack's grid layout and the blocks' projections without bias."""
import pytest
import torch

from projects.risam.models.necks import (
    BidirectionalCrossModalFusion,
    ConcatConvFusion,
    LinearProjectionNeck,
    LinguisticPositionalEncoding,
    MutualAwareAttention,
    MutualAwareFusion,
    SpatialDynamicFusion,
    TransformerEncoderFusion,
)
from projects.risam.models.necks.ablations.bidirectional_cross_modal_fusion import (
    BidirectionalCrossModalBlock,
)

FUSIONS = [MutualAwareFusion, SpatialDynamicFusion,
           BidirectionalCrossModalFusion, ConcatConvFusion,
           TransformerEncoderFusion, LinearProjectionNeck]


WITH_WORD_POSITIONS = FUSIONS[:-1]


@pytest.mark.parametrize('cls', FUSIONS)
def test_fusion_defaults_and_backbone_output(neck_inputs, cls):
    """C = 256 out, and the last entry of a backbone tuple is fused."""
    torch.manual_seed(0)
    neck = cls(in_channels=8, text_channels=6).eval()
    visual, text, mask = neck_inputs()
    with torch.no_grad():
        lav, val = neck(visual, text, mask)
        lav_t, val_t = neck((torch.randn(2, 8, 6, 8), visual), text, mask)
    assert lav.shape == (2, 256, 3, 4) and val.shape == (2, 5, 256)
    torch.testing.assert_close(lav_t, lav)
    torch.testing.assert_close(val_t, val)
    assert getattr(neck, 'text_pos_embed', None) is None
    depth = {'blocks': 2, 'convs': 2 * 3, 'encoder': 2}
    for name, n in depth.items():
        if hasattr(neck, name):
            part = getattr(neck, name)
            assert len(getattr(part, 'layers', part)) == n


@pytest.mark.parametrize('cls', [MutualAwareFusion, SpatialDynamicFusion,
                                 BidirectionalCrossModalFusion])
def test_stack_arguments_reach_the_stack(neck_inputs, cls):
    """``channels``, ``num_blocks`` and ``in_index`` given to a stacking
    neck are the ones it uses."""
    torch.manual_seed(0)
    neck = cls(in_channels=8, text_channels=6, channels=16, num_blocks=3,
               in_index=0).eval()
    visual, text, mask = neck_inputs()
    with torch.no_grad():
        lav, val = neck((visual, torch.randn(2, 8, 6, 8)), text, mask)
        lav_v, _ = neck(visual, text, mask)
    assert len(neck.blocks) == 3
    assert lav.shape == (2, 16, 3, 4) and val.shape == (2, 5, 16)
    torch.testing.assert_close(lav, lav_v)


@pytest.mark.parametrize('cls', FUSIONS)
def test_fusion_init_cfg_reaches_mmengine(cls):
    init_cfg = dict(type='Constant', layer='Linear', val=0.25, bias=0.0)
    neck = cls(in_channels=8, text_channels=6, channels=16,
               init_cfg=init_cfg)
    neck.init_weights()
    linears = [m for m in neck.modules() if type(m) is torch.nn.Linear]
    assert linears and all(torch.all(m.weight == 0.25) for m in linears)


@pytest.mark.parametrize('cls', WITH_WORD_POSITIONS)
def test_word_positions_are_added_before_the_fusion(neck_inputs, cls):
    """``text_pos_embed=True`` is the same neck on ``F_l + P`` (real words
    only, Fig. 3)."""
    torch.manual_seed(0)
    plain = cls(in_channels=8, text_channels=6, channels=16).eval()
    with_pe = cls(in_channels=8, text_channels=6, channels=16,
                  text_pos_embed=True).eval()
    with_pe.load_state_dict(plain.state_dict())
    visual, text, mask = neck_inputs()
    with torch.no_grad():
        got = with_pe(visual, text, mask)
        moved = LinguisticPositionalEncoding(channels=6)(text, mask)
        want = plain(visual, moved, mask)
        unmoved = plain(visual, text, mask)
    torch.testing.assert_close(got, want)
    assert (got[1] - unmoved[1]).abs().max() > 1e-3


def test_stack_output_is_the_last_blocks_pixels_on_the_grid(neck_inputs):
    """``F_lav[b, :, y, x]`` is the last block's token ``y * W + x``."""
    torch.manual_seed(0)
    neck = MutualAwareFusion(in_channels=8, text_channels=6,
                             channels=16).eval()
    visual, text, mask = neck_inputs()
    with torch.no_grad():
        lav, val = neck(visual, text, mask)
        x, t = visual.flatten(2).transpose(1, 2), text
        for blk in neck.blocks:
            x, t = blk(x, t, mask)
    torch.testing.assert_close(lav[1, :, 2, 3], x[1, 2 * 4 + 3])
    torch.testing.assert_close(lav, x.transpose(1, 2).reshape(2, 16, 3, 4))
    torch.testing.assert_close(val, t)


def test_block_defaults_and_projections_without_bias():
    """The MA block alone: C = 256, τ = 0.35; ``Z = F W`` (Eq. 3) and the
    SDF/BCM projections have no bias."""
    ma = MutualAwareAttention(visual_channels=8, text_channels=6)
    assert (ma.channels, ma.tau) == (256, 0.35)
    bcm = BidirectionalCrossModalBlock(visual_channels=8, text_channels=6,
                                       channels=16)
    for proj in (ma.visual_proj, ma.text_proj, bcm.visual_proj,
                 bcm.text_proj, bcm.query_proj, bcm.key_proj,
                 bcm.value_proj, bcm.out_proj):
        assert proj.bias is None
