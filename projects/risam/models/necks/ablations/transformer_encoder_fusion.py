"""ReSTR-style transformer encoder fusion (paper Tab. 3, row #5 "TE")."""
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from ....registry import MODELS
from ..block_stack_fusion import WordFusionNeck


@MODELS.register_module()
class TransformerEncoderFusion(WordFusionNeck):
    """Joint transformer encoder over visual and word tokens (Tab. 3 #5).

    ReSTR models long-range dependencies inside and across modalities with a
    plain transformer encoder over the concatenated token sequence (§4.5.1)::

        X = [F_v W_v + e_vis ; F_l W_l + e_txt]        B x (L_v + L) x C
        X = TransformerEncoder(X)  (padding words masked as keys)
        F_lav, F_val = X[:, :L_v], X[:, L_v:]

    ``e_vis``/``e_txt`` are learned modality embeddings; the visual tokens
    keep the position information the image encoder put into them.

    Args:
        in_channels: ``C_v`` of the visual map.
        text_channels: ``C'`` of the word features.
        channels: ``C`` (model width).
        num_layers: encoder layers.
        num_heads: attention heads.
        feedforward_channels: hidden width of each FFN.
        in_index: which backbone output to fuse when given a tuple.
        text_pos_embed: add Fig. 3's :class:`LinguisticPositionalEncoding`
            to the real words before ``W_l``, as the block-stack necks do
            (the encoder is otherwise blind to word order); off by default,
            on in the paper configs (the MA row and the fusion rows of
            Tab. 2-3).
    """

    def __init__(self,
                 *,
                 in_channels: int,
                 text_channels: int,
                 channels: int = 256,
                 num_layers: int = 2,
                 num_heads: int = 8,
                 feedforward_channels: int = 1024,
                 in_index: int = -1,
                 text_pos_embed: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(text_channels=text_channels, in_index=in_index,
                         text_pos_embed=text_pos_embed, init_cfg=init_cfg)
        self.channels = channels
        self.visual_proj = nn.Linear(in_channels, channels)
        self.text_proj = nn.Linear(text_channels, channels)
        self.modality_embed = nn.Parameter(torch.randn(2, channels) * 0.02)
        layer = nn.TransformerEncoderLayer(
            channels, num_heads, dim_feedforward=feedforward_channels,
            dropout=0.0, activation='gelu', batch_first=True)
        self.encoder = nn.TransformerEncoder(
            layer, num_layers, enable_nested_tensor=False)

    def forward(self, visual: Tensor | Sequence[Tensor], text: Tensor,
                mask: Tensor) -> Tuple[Tensor, Tensor]:
        """``visual`` ``B x C_v x H x W`` (or tuple), ``text`` ``B x L x C'``,
        ``mask`` ``B x L`` bool -> ``F_lav`` ``B x C x H x W``, ``F_val``
        ``B x L x C``."""
        visual, text = self.select_inputs(visual, text, mask)
        b, _, h, w = visual.shape
        v = self.visual_proj(visual.flatten(2).transpose(1, 2))
        t = self.text_proj(text)
        x = torch.cat([v + self.modality_embed[0], t + self.modality_embed[1]],
                      dim=1)
        pad = torch.cat([
            torch.zeros(b, h * w, dtype=torch.bool, device=x.device),
            ~mask.bool()
        ], dim=1)
        x = self.encoder(x, src_key_padding_mask=pad)
        lav = x[:, :h * w].transpose(1, 2).reshape(b, self.channels, h, w)
        return lav, x[:, h * w:]


__all__ = ['TransformerEncoderFusion']
