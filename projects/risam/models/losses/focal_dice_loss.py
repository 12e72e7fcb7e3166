"""Focal + dice loss for binary referring masks (paper §3.5, Eq. 10-12)."""
from typing import Dict

import torch
from torch import Tensor, nn
from torchvision.ops import sigmoid_focal_loss

from ...registry import MODELS


@MODELS.register_module()
class RISAMFocalDiceLoss(nn.Module):
    """``L = w_f * L_focal + w_d * L_dice`` on one binary mask per sample.

    - Focal (Eq. 10): ``-(1 - p_t)^gamma * log(p_t)`` with ``p_t = p`` on
      target pixels and ``1 - p`` elsewhere (no alpha balancing: the paper
      gives none), averaged over the valid pixels of the batch.
    - Dice (Eq. 11): ``1 - (2 |P n T| + s) / (|P| + |T| + s)`` per sample,
      with ``|.|`` the sum of probabilities over valid pixels, averaged over
      the batch. ``smooth = s`` (default 1, as in SAM/Mask2Former) keeps the
      loss defined for empty targets (gRefCOCO no-target samples) where the
      printed Eq. 11 is 0/0-prone; ``smooth=0`` is the printed equation.
    - Pixels equal to ``ignore_index`` (padding, 255) are ignored by both.

    The focal term is torchvision's ``sigmoid_focal_loss``. mmseg's
    ``FocalLoss`` (alpha-balanced, one-hot multi-class) and ``DiceLoss``
    (squared denominators by default) do not match Eq. 10-11 on a single
    binary mask with padding, hence this class around them.

    Returns a dict ``{'loss_focal': w_f * L_f, 'loss_dice': w_d * L_d}``;
    mmengine sums the entries.
    """

    def __init__(self,
                 *,
                 focal_weight: float = 0.5,
                 dice_weight: float = 0.5,
                 gamma: float = 2.0,
                 smooth: float = 1.0,
                 ignore_index: int = 255) -> None:
        super().__init__()
        self.focal_weight = focal_weight
        self.dice_weight = dice_weight
        self.gamma = gamma
        self.smooth = smooth
        self.ignore_index = ignore_index

    def focal(self, logits: Tensor, target: Tensor, valid: Tensor) -> Tensor:
        """Eq. 10 averaged over valid pixels; ``B x H x W`` inputs.

        torchvision's ``sigmoid_focal_loss`` with ``alpha=-1`` (no
        balancing) is exactly Eq. 10 per pixel."""
        loss = sigmoid_focal_loss(logits, target.to(logits.dtype), alpha=-1,
                                  gamma=self.gamma, reduction='none')
        v = valid.to(logits.dtype)
        return (loss * v).sum() / v.sum().clamp(min=1)

    def dice(self, logits: Tensor, target: Tensor, valid: Tensor) -> Tensor:
        """Eq. 11 per sample, averaged over the batch."""
        v = valid.to(logits.dtype).flatten(1)
        p = torch.sigmoid(logits).flatten(1) * v
        t = target.to(logits.dtype).flatten(1) * v
        inter = (p * t).sum(1)
        denom = p.sum(1) + t.sum(1)
        loss = 1 - (2 * inter + self.smooth) / (denom + self.smooth).clamp(
            min=1e-6)
        return loss.mean()

    def forward(self, logits: Tensor, target: Tensor) -> Dict[str, Tensor]:
        """``logits``: ``B x H x W`` (pre-sigmoid); ``target``: ``B x H x W``
        in {0, 1, ignore_index}."""
        valid = target != self.ignore_index
        target = torch.where(valid, target, torch.zeros_like(target))
        return dict(
            loss_focal=self.focal_weight * self.focal(logits, target, valid),
            loss_dice=self.dice_weight * self.dice(logits, target, valid))
