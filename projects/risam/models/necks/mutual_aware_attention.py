"""Mutual-Aware Attention block (paper §3.3, Eq. 3-5)."""
import math
from typing import Tuple

import torch
from torch import Tensor, nn


class MutualAwareAttention(nn.Module):
    """One MA block: Vision-Guided and Language-Guided attention in parallel.

    ::

        Z_v = F_v W_v,  Z_l = F_l W_l                                 (Eq. 3)
        S   = Z_v Z_l^T / sqrt(C)                        B x L_v x L_l
        A   = softmax_over_words(S + M)                               (Eq. 3)
        F_lav = LN(A Z_l + Z_v),  F_val = LN(A^T Z_v + Z_l)           (Eq. 5)

    Attention mask ``M`` (Eq. 4). The printed equation is garbled: it writes
    the relevance as ``1 / (1 + e^{S})`` (that is ``sigmoid(-S)``) and masks
    where it is *not* below ``tau``. Read literally, raising ``tau`` would
    mask *fewer* pairs, which contradicts the text ("filter out irrelevant
    pairs"; "when tau is too big, some necessary features are masked",
    Fig. 8). We therefore implement the stated intent:

    - relevance ``R = sigmoid(S)`` (computed on detached scores: the hard
      threshold has no gradient anyway);
    - pair ``(pixel i, word j)`` is masked (``-inf``) iff ``R(i, j) < tau``,
      i.e. irrelevant pairs are removed and a larger ``tau`` removes more;
    - padding words (``mask[j] == False``) are always masked, with or without
      ``use_attn_mask``;
    - a pixel whose every real word falls below ``tau`` falls back to
      attending all real words of its sentence (no NaN, and the pixel still
      receives language information);
    - a sentence with no real word at all (all padding) gives an all-zero row
      of ``A``: ``F_lav = LN(Z_v)``, ``F_val = LN(Z_l)``; never NaN.

    The same (masked) ``A`` is used transposed for the language branch, as in
    Eq. 5; masked pairs therefore contribute to neither branch.

    Args:
        visual_channels: ``C_v`` of ``F_v``.
        text_channels: ``C'`` of ``F_l``.
        channels: ``C`` of the joint space.
        tau: relevance threshold (paper: 0.35).
        use_attn_mask: False gives row #8 of Tab. 3 (padding still masked).
    """

    def __init__(self,
                 *,
                 visual_channels: int,
                 text_channels: int,
                 channels: int = 256,
                 tau: float = 0.35,
                 use_attn_mask: bool = True) -> None:
        super().__init__()
        self.channels = channels
        self.tau = tau
        self.use_attn_mask = use_attn_mask
        self.visual_proj = nn.Linear(visual_channels, channels, bias=False)
        self.text_proj = nn.Linear(text_channels, channels, bias=False)
        self.visual_norm = nn.LayerNorm(channels)
        self.text_norm = nn.LayerNorm(channels)

    def allowed_pairs(self, scores: Tensor, mask: Tensor) -> Tensor:
        """Bool ``B x L_v x L_l``: True where pixel i may attend word j."""
        valid = mask[:, None, :].expand_as(scores)
        if not self.use_attn_mask:
            return valid
        relevant = torch.sigmoid(scores.detach()) >= self.tau
        allowed = relevant & valid
        empty_row = ~allowed.any(dim=-1, keepdim=True)
        # bool algebra rather than torch.where: onnxruntime has no bool Where
        return (empty_row & valid) | allowed

    def forward(self, visual: Tensor, text: Tensor,
                mask: Tensor) -> Tuple[Tensor, Tensor]:
        """Fuse the two modalities.

        Args:
            visual: ``F_v``, ``B x L_v x C_v``.
            text: ``F_l``, ``B x L_l x C'``.
            mask: ``B x L_l`` bool, True for real words.

        Returns:
            ``F_lav`` (``B x L_v x C``) and ``F_val`` (``B x L_l x C``).
        """
        z_v = self.visual_proj(visual)
        z_l = self.text_proj(text)
        scores = z_v @ z_l.transpose(1, 2) / math.sqrt(self.channels)
        allowed = self.allowed_pairs(scores, mask.bool())
        logits = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
        attn = logits.softmax(dim=-1) * allowed.to(scores.dtype)
        lav = self.visual_norm(attn @ z_l + z_v)
        val = self.text_norm(attn.transpose(1, 2) @ z_v + z_l)
        return lav, val
