"""Conv fusion over concatenated visual and linguistic features (Tab. 2 #2)."""
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from ....registry import MODELS
from ..block_stack_fusion import WordFusionNeck


def masked_mean(tokens: Tensor, mask: Tensor) -> Tensor:
    """Mean of the real tokens: ``B x L x C``, ``B x L`` -> ``B x C``.

    A sentence without any real token gives a zero vector.
    """
    weights = mask.to(tokens.dtype)[..., None]
    return (tokens * weights).sum(1) / weights.sum(1).clamp(min=1.0)


@MODELS.register_module()
class ConcatConvFusion(WordFusionNeck):
    """Replace the MA blocks by conv layers (paper Tab. 2, row #2 "r. MA").

    §4.5: "we replace our Mutual-Aware Attention Block with convolutional
    layers, which receive the concatenation of visual and linguistic features
    as inputs". The sentence vector is the mean of the projected real words,
    tiled over the map::

        F_l <- F_l + P  (real words; text_pos_embed only)  B x L x C'
        V = Conv1x1(F_v)                                  B x C x H x W
        Z_l = F_l W_l                                     B x L x C
        s = mean_{real j} Z_l[j]                          B x C
        F_lav = [CBA(3x3)] x num_convs ([V, tile(s)])     B x C x H x W
        F_val = LN(Z_l)                                   B x L x C

    ``F_val`` carries no visual information (there is no language-guided
    branch); it is still returned so the Mutual-Aware Mask Decoder is
    unchanged, as in the paper's row.

    Args:
        in_channels: ``C_v`` of the visual map.
        text_channels: ``C'`` of the word features.
        channels: ``C`` of the outputs.
        num_convs: number of 3x3 conv-BN-GELU layers (>= 1).
        in_index: which backbone output to fuse when given a tuple.
        text_pos_embed: add Fig. 3's :class:`LinguisticPositionalEncoding`
            to the real words before ``W_l``, as the MA row does, so the
            row differs from RISAM in the fusion only; off by default.
    """

    def __init__(self,
                 *,
                 in_channels: int,
                 text_channels: int,
                 channels: int = 256,
                 num_convs: int = 2,
                 in_index: int = -1,
                 text_pos_embed: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(text_channels=text_channels, in_index=in_index,
                         text_pos_embed=text_pos_embed, init_cfg=init_cfg)
        if num_convs < 1:
            raise ValueError('ConcatConvFusion needs num_convs >= 1')
        self.visual_proj = nn.Conv2d(in_channels, channels, 1)
        self.text_proj = nn.Linear(text_channels, channels)
        self.text_norm = nn.LayerNorm(channels)
        layers = []
        for i in range(num_convs):
            layers += [
                nn.Conv2d(2 * channels if i == 0 else channels, channels, 3,
                          padding=1, bias=False),
                nn.BatchNorm2d(channels), nn.GELU()
            ]
        self.convs = nn.Sequential(*layers)

    def forward(self, visual: Tensor | Sequence[Tensor], text: Tensor,
                mask: Tensor) -> Tuple[Tensor, Tensor]:
        """``visual`` ``B x C_v x H x W`` (or tuple), ``text`` ``B x L x C'``,
        ``mask`` ``B x L`` bool -> ``F_lav`` ``B x C x H x W``, ``F_val``
        ``B x L x C``."""
        visual, text = self.select_inputs(visual, text, mask)
        v = self.visual_proj(visual)
        z_l = self.text_proj(text)
        sentence = masked_mean(z_l, mask.bool())
        tiled = sentence[..., None, None].expand_as(v)
        lav = self.convs(torch.cat([v, tiled], dim=1))
        return lav, self.text_norm(z_l)


__all__ = ['ConcatConvFusion', 'masked_mean']
