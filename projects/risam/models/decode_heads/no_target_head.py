"""A no-target score read from the decoder's query token (ReLA style).

Not in the RISAM paper, which does not say how an empty target is predicted
on gRefCOCO (Tab. 10). ReLA (GRES, CVPR 2023) predicts "no target" from its
expression feature with a small classifier and suppresses the mask when it
fires; this is the same idea on RISAM's evolved multi-modal query token.
"""
from typing import Dict

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ['NoTargetHead']


class NoTargetHead(nn.Module):
    """``s = w^T LN(F_m^) + b`` per sample; ``p_none = sigmoid(s)``.

    ``F_m^`` is the decoder's query token after the last layer (Eq. 8-9),
    the same vector that the mask weights are read from (§3.4).

    - Training: ``L_none = weight * BCE(s, y)`` with ``y = 1`` for a sample
      whose target is empty (a no-target sentence), added to Eq. 12.
    - ``mask_loss_on_empty=False``: the mask loss (Eq. 12) leaves out the
      samples labelled none (their target becomes ``ignore_index``), so the
      mask branch learns only targeted sentences and "nothing" is the
      head's decision alone; True (default) keeps the empty target in
      Eq. 12 as well.
    - Inference: where ``p_none > threshold`` the mask logits are replaced
      by ``min(logits, suppress_logit)``, i.e. no pixel passes the mask
      threshold and the prediction is "nothing".

    Args:
        channels: ``C`` of the query token.
        weight: loss weight of ``L_none``.
        threshold: ``p_none`` above which the mask is suppressed.
        suppress_logit: logit the suppressed pixels are capped at
            (``sigmoid(-20) ~ 2e-9``).
        mask_loss_on_empty: keep the no-target samples in the mask loss.
    """

    def __init__(self, *, channels: int, weight: float = 1.0,
                 threshold: float = 0.5,
                 suppress_logit: float = -20.0,
                 mask_loss_on_empty: bool = True) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels)
        self.fc = nn.Linear(channels, 1)
        self.weight = weight
        self.threshold = threshold
        self.suppress_logit = suppress_logit
        self.mask_loss_on_empty = mask_loss_on_empty

    def forward(self, token: Tensor) -> Tensor:
        """``B x C`` query tokens -> ``B`` no-target logits ``s``."""
        return self.fc(self.norm(token))[:, 0]

    def suppress(self, logits: Tensor, score: Tensor) -> Tensor:
        """Cap the ``B x 1 x h x w`` mask logits of the samples whose
        ``sigmoid(score) > threshold`` at ``suppress_logit``."""
        none = (score.sigmoid() > self.threshold).view(-1, 1, 1, 1)
        capped = logits.clamp(max=self.suppress_logit)
        return torch.where(none, capped, logits)

    @staticmethod
    def labels(gt: Tensor) -> Tensor:
        """``B x H x W`` targets in {0, 1, ignore} -> ``B`` float labels,
        1 where no pixel is foreground (an empty, no-target mask)."""
        return ((gt == 1).flatten(1).sum(1) == 0).float()

    def mask_target(self, gt: Tensor, ignore_index: int = 255) -> Tensor:
        """The target Eq. 12 sees: ``gt`` as it is, or with the samples
        labelled none set to ``ignore_index`` (``mask_loss_on_empty``
        False)."""
        if self.mask_loss_on_empty:
            return gt
        none = self.labels(gt).bool().view(-1, 1, 1)
        return torch.where(none, torch.full_like(gt, ignore_index), gt)

    def loss(self, score: Tensor, gt: Tensor) -> Dict[str, Tensor]:
        """``{'loss_no_target': weight * mean BCE(s, y)}``."""
        y = self.labels(gt).to(score.dtype)
        bce = F.binary_cross_entropy_with_logits(score, y)
        return dict(loss_no_target=self.weight * bce)
