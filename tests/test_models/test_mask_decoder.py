"""MutualAwareMaskDecoder: shapes, padding invariance, ELG switch."""
import torch

from projects.risam.models import MutualAwareMaskDecoder


def _inputs():
    lav = torch.randn(2, 16, 4, 5)
    val = torch.randn(2, 6, 16)
    mask = torch.tensor([[True] * 6, [True, True, False, False, False,
                                      False]])
    return lav, val, mask


def test_output_shape_and_padding_invariance():
    dec = MutualAwareMaskDecoder(in_channels=16, num_heads=2).eval()
    lav, val, mask = _inputs()
    out = dec(lav, val, mask)
    assert out.shape == (2, 1, 16, 20)
    val2 = val.clone()
    val2[1, 2:] = 50.0  # padding words of sample 1
    out2 = dec(lav, val2, mask)
    torch.testing.assert_close(out, out2)


def test_without_extra_linguistic_guidance_ignores_f_val():
    dec = MutualAwareMaskDecoder(in_channels=16, num_heads=2,
                                 extra_linguistic_guidance=False).eval()
    lav, val, mask = _inputs()
    out = dec(lav, val, mask)
    torch.testing.assert_close(out, dec(lav, torch.randn_like(val), mask))
    with_elg = MutualAwareMaskDecoder(in_channels=16, num_heads=2).eval()
    with_elg.load_state_dict(dec.state_dict())
    assert not torch.allclose(with_elg(lav, val, mask),
                              with_elg(lav, torch.randn_like(val), mask))


def test_loss_resizes_to_gt_and_ignores_padding():
    dec = MutualAwareMaskDecoder(in_channels=16, num_heads=2)
    lav, val, mask = _inputs()
    gt = torch.randint(0, 2, (2, 64, 80))
    gt[:, 40:] = 255
    losses = dec.loss(lav, val, mask, gt)
    assert set(losses) == {'loss_focal', 'loss_dice'}
    sum(losses.values()).backward()
    assert dec.query_token.grad.abs().sum() > 0
