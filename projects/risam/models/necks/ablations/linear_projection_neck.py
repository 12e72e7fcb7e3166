"""Plain linear projections, no fusion: the "SAM" baseline (paper Tab. 11)."""
from typing import Optional, Sequence, Tuple

from mmengine.model import BaseModule
from torch import Tensor, nn

from ....registry import MODELS


@MODELS.register_module()
class LinearProjectionNeck(BaseModule):
    """Project both modalities to ``C`` and fuse nothing (paper §5, Tab. 11).

    §5: "we freeze the visual and text encoder and only train the linear
    layer (ensure consistency of feature dimensions across different
    modalities) and the mask decoder"::

        F_lav := F_v        B x C x H x W   (SAM's image embedding, from
                                             SAMBackbone(sam_neck=True))
        F_val := F_l W_l    B x L x C       (the text prompt tokens)

SAM's image encoder already ends in ``C = 256`` channels (its neck), so the
only linear layer that aligns the modalities is ``W_l``. Given
``in_channels``, a 1x1 projection ``W_v`` is added for visual maps of
another width (e.g. raw ViT blocks).

    Used with :class:`SAMMaskDecoderHead`, which takes ``F_val`` as SAM's
    sparse prompt.

    Args:
        in_channels: ``C_v`` of the visual map, or None (default) when it
            is already ``C`` wide and passes through unchanged.
        text_channels: ``C'`` of the word features.
        channels: ``C`` (SAM's prompt/transformer width, 256).
        in_index: which backbone output to use when given a tuple.
    """

    def __init__(self,
                 *,
                 in_channels: Optional[int] = None,
                 text_channels: int,
                 channels: int = 256,
                 in_index: int = -1,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_index = in_index
        self.visual_proj = nn.Identity() if in_channels is None else \
            nn.Conv2d(in_channels, channels, 1)
        self.text_proj = nn.Linear(text_channels, channels)

    def forward(self, visual: Tensor | Sequence[Tensor], text: Tensor,
                mask: Tensor) -> Tuple[Tensor, Tensor]:
        """``visual`` ``B x C_v x H x W`` (or tuple), ``text`` ``B x L x C'``
        -> ``B x C x H x W``, ``B x L x C`` (``mask`` is not needed here)."""
        if not isinstance(visual, Tensor):
            visual = visual[self.in_index]
        return self.visual_proj(visual), self.text_proj(text)


__all__ = ['LinearProjectionNeck']
