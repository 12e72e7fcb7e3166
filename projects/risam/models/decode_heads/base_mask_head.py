"""What every RISAM mask head shares: its training loss (Eq. 10-12)."""
from typing import Dict, Optional

import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from ...registry import MODELS

__all__ = ['BaseMaskHead']


class BaseMaskHead(BaseModule):
    """A head ``(F_lav, F_val, mask) -> B x 1 x h x w`` mask logits, trained
    with ``loss_decode`` (focal + dice, Eq. 12) against the full-size target.

    Subclasses implement ``forward(lav, val, mask)``.

    Args:
        loss_decode: loss config (Eq. 10-12).
    """

    def __init__(self, *, loss_decode: dict,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.loss_decode = MODELS.build(loss_decode)

    def loss_by_feat(self, logits: Tensor, gt: Tensor) -> Dict[str, Tensor]:
        """Eq. 12 on ``B x 1 x h x w`` logits bilinearly resized to the
        ``B x H x W`` target (values {0, 1, 255 = ignored})."""
        logits = F.interpolate(logits, size=gt.shape[-2:], mode='bilinear',
                               align_corners=False)[:, 0]
        return self.loss_decode(logits, gt)

    def loss(self, lav: Tensor, val: Tensor, mask: Tensor,
             gt: Tensor) -> Dict[str, Tensor]:
        """Forward and loss; ``gt``: ``B x H x W`` in {0, 1, 255}."""
        return self.loss_by_feat(self(lav, val, mask), gt)
