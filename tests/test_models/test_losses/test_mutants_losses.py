"""RISAMFocalDiceLoss corners that mutation testing found unguarded.

Each test pins one hand-computed value of Eq. 10-12 where a changed
constant would move it: the default dice smoothing, the focal mean over a
single valid pixel and the dice clamp when ``|P| + |T| + s < 1``.
"""
import math

import pytest
import torch

from projects.risam.models import RISAMFocalDiceLoss

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
