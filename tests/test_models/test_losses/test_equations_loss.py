"""Eq. 10-12 on a two-sample batch with ignored pixels, by hand.

    L_f = -(1 - p_t)^gamma log(p_t)          (Eq. 10), gamma = 2
    L_d = 1 - 2 |P n T| / (|P| + |T|)        (Eq. 11), per sample
    L   = w_f L_f + w_d L_d                  (Eq. 12), w_f = w_d = 0.5

Focal is averaged over the valid pixels of the whole batch and dice over the
samples (the class docstring); pixels labelled 255 take part in neither, so
their logits can be anything.
"""
import math

import pytest
import torch

from projects.risam.models import RISAMFocalDiceLoss

L3 = math.log(3.0)  # sigmoid(ln 3) = 0.75
# sample A: p = (0.5, 0.75), target (1, 0), third pixel ignored
# sample B: p = 0.75, target 1, two pixels ignored
LOGITS = torch.tensor([[[0.0, L3, 4.0]], [[L3, -3.0, 5.0]]])
TARGET = torch.tensor([[[1, 0, 255]], [[1, 255, 255]]])

FOCAL = (0.25 * math.log(2)  # A1: p_t = .5, (1 - .5)^2 log 2
         + 0.5625 * math.log(4)  # A2: p_t = .25, (.75)^2 log 4
         + 0.0625 * math.log(4 / 3)) / 3  # B1: p_t = .75, (.25)^2 log 4/3
DICE_A = 1 - 2 * 0.5 / (1.25 + 1)  # |PnT| = .5, |P| = 1.25, |T| = 1
DICE_B = 1 - 2 * 0.75 / (0.75 + 1)


def test_eq12_hand_value_printed_dice():
    out = RISAMFocalDiceLoss(smooth=0.0)(LOGITS, TARGET)
    assert FOCAL == pytest.approx(0.323686, abs=1e-6)
    assert out['loss_focal'].item() == pytest.approx(0.5 * FOCAL, abs=1e-6)
    assert out['loss_dice'].item() == pytest.approx(
        0.5 * (DICE_A + DICE_B) / 2, abs=1e-6)


def test_eq11_with_smoothing():
    out = RISAMFocalDiceLoss(smooth=1.0, focal_weight=0.0,
                             dice_weight=1.0)(LOGITS, TARGET)
    want = ((1 - (2 * 0.5 + 1) / (2.25 + 1)) +
            (1 - (2 * 0.75 + 1) / (1.75 + 1))) / 2
    assert out['loss_dice'].item() == pytest.approx(want, abs=1e-6)


@pytest.mark.parametrize('smooth', [0.0, 1.0])
def test_ignored_pixels_change_nothing(smooth):
    """Any logits at the 255 pixels give the same loss; labelling one of
    them 0 instead (not ignored) changes it."""
    loss = RISAMFocalDiceLoss(smooth=smooth)
    base = loss(LOGITS, TARGET)
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):
        logits = LOGITS.clone()
        ignored = TARGET == 255
        logits[ignored] = torch.randn(int(ignored.sum()), generator=gen) * 8
        other = loss(logits, TARGET)
        for key in base:
            assert other[key].item() == pytest.approx(base[key].item(),
                                                      abs=1e-7)
    counted = TARGET.clone()
    counted[0, 0, 2] = 0
    assert loss(LOGITS, counted)['loss_focal'].item() > \
        base['loss_focal'].item() + 0.1
