"""RISAMFocalDiceLoss against hand-computed Eq. 10-12 values."""
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
