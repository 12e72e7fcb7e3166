"""RISAMFocalDiceLoss against hand-computed Eq. 10-12 values, including the
corners where a changed constant would move one: the default dice
smoothing, the focal mean over a single valid pixel, an all-ignored batch
and the dice clamp when ``|P| + |T| + s < 1``."""

import math

import pytest
import torch

from projects.risam.models import RISAMFocalDiceLoss

# p = sigmoid(logit): 0.5, 0.75 (third pixel is padding: ignored)
LOGITS = torch.tensor([[[0.0, math.log(3.0), 9.0]]])
TARGET = torch.tensor([[[1, 0, 255]]])


def test_focal_hand_value():
    loss = RISAMFocalDiceLoss(focal_weight=1.0, dice_weight=0.0)
    # pixel 1: p_t = .5 -> .25 * ln 2; pixel 2: p_t = .25 -> .5625 * ln 4
    expected = (0.25 * math.log(2) + 0.5625 * math.log(4)) / 2
    assert loss(LOGITS, TARGET)['loss_focal'].item() == pytest.approx(
        expected, abs=1e-6)
    assert expected == pytest.approx(0.4765386, abs=1e-6)


@pytest.mark.parametrize('smooth,expected', [(0.0, 1 - 1.0 / 2.25),
                                             (1.0, 1 - 2.0 / 3.25)])
def test_dice_hand_value(smooth, expected):
    loss = RISAMFocalDiceLoss(focal_weight=0.0, dice_weight=1.0,
                              smooth=smooth)
    # |P n T| = .5, |P| + |T| = 1.25 + 1
    assert loss(LOGITS, TARGET)['loss_dice'].item() == pytest.approx(
        expected, abs=1e-6)


def test_weights_and_gamma():
    loss = RISAMFocalDiceLoss(smooth=0.0)  # paper: 0.5 / 0.5, gamma 2
    out = loss(LOGITS, TARGET)
    assert out['loss_focal'].item() == pytest.approx(0.5 * 0.4765386,
                                                     abs=1e-6)
    assert out['loss_dice'].item() == pytest.approx(0.5 * (1 - 1 / 2.25),
                                                    abs=1e-6)
    # gamma = 0 reduces the focal term to plain BCE
    bce = RISAMFocalDiceLoss(gamma=0.0, focal_weight=1.0, dice_weight=0.0)
    assert bce(LOGITS, TARGET)['loss_focal'].item() == pytest.approx(
        (math.log(2) + math.log(4)) / 2, abs=1e-6)


def test_ignored_pixels_get_no_gradient():
    logits = LOGITS.clone().requires_grad_(True)
    sum(RISAMFocalDiceLoss()(logits, TARGET).values()).backward()
    assert logits.grad[0, 0, 2].item() == 0.0
    assert logits.grad[0, 0, :2].abs().min().item() > 0


def _focal_as_written(logits, target, valid, gamma):
    """Eq. 10 written out (the formula this class used before it called
    torchvision): -(1 - p_t)^gamma log p_t, mean over valid pixels."""
    t = target.float()
    ce = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, t, reduction='none')
    p = torch.sigmoid(logits)
    p_t = p * t + (1 - p) * (1 - t)
    v = valid.float()
    return (((1 - p_t)**gamma * ce) * v).sum() / v.sum()


@pytest.mark.parametrize('gamma', [0.0, 2.0, 3.5])
def test_focal_parity_with_equation(gamma):
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 33, 29, generator=gen) * 4
    target = torch.randint(0, 2, (4, 33, 29), generator=gen)
    target[:, -5:] = 255  # padding rows
    valid = target != 255
    got = RISAMFocalDiceLoss(gamma=gamma, focal_weight=1.0,
                             dice_weight=0.0)(logits, target)['loss_focal']
    want = _focal_as_written(logits, torch.where(valid, target, 0), valid,
                             gamma)
    assert abs(got.item() - want.item()) <= 1e-6
    assert want.item() > 0.05  # a non-trivial value was compared


L3 = math.log(3.0)  # sigmoid(ln 3) = 0.75, sigmoid(-ln 3) = 0.25


def test_default_smoothing_is_one():
    # p = (0.5, 0.75), t = (1, 0): |P n T| = .5, |P| + |T| = 2.25
    logits = torch.tensor([[[0.0, L3]]])
    target = torch.tensor([[[1, 0]]])
    out = RISAMFocalDiceLoss()(logits, target)
    assert out['loss_dice'].item() == pytest.approx(
        0.5 * (1 - (2 * 0.5 + 1) / (2.25 + 1)), abs=1e-6)


def test_focal_mean_over_a_single_valid_pixel():
    # one valid pixel (p_t = .5): the mean divides by 1, not by a floor
    logits = torch.tensor([[[0.0, 7.0, -2.0]]])
    target = torch.tensor([[[1, 255, 255]]])
    out = RISAMFocalDiceLoss(focal_weight=1.0, dice_weight=0.0)(logits,
                                                                target)
    assert out['loss_focal'].item() == pytest.approx(0.25 * math.log(2),
                                                     abs=1e-6)


def test_focal_of_an_all_ignored_batch_is_zero():
    logits = torch.tensor([[[0.0, 3.0]]])
    target = torch.full((1, 1, 2), 255)
    out = RISAMFocalDiceLoss()(logits, target)
    assert out['loss_focal'].item() == 0.0


def test_dice_small_denominator_is_not_clamped():
    # empty target, p = .25, s = .5: 1 - .5 / (.25 + .5) = 1/3; the clamp
    # (1e-6) must not touch a denominator of .75
    logits = torch.tensor([[[-L3]]])
    target = torch.tensor([[[0]]])
    out = RISAMFocalDiceLoss(focal_weight=0.0, dice_weight=1.0,
                             smooth=0.5)(logits, target)
    assert out['loss_dice'].item() == pytest.approx(1 / 3, abs=1e-6)
