"""Mutual-Aware Attention block (paper §3.3, Eq. 3-5)."""
import math
from typing import Tuple

import torch
from torch import Tensor, nn


def allowed_pairs(scores: Tensor, mask: Tensor,
                  tau: float | None) -> Tensor:
    """Eq. 4's mask as read in :class:`MutualAwareAttention`: bool
    ``B x L_v x L_l``, True where pixel i may attend word j.

    Padding words (``mask`` ``B x L_l`` False) are never allowed. With
    ``tau`` set, a pair whose relevance ``sigmoid(S)`` (detached) is below
    ``tau`` is removed too; a pixel left with no real word falls back to all
    real words of its sentence. ``tau=None`` masks the padding only.
    """
    valid = mask[:, None, :].expand_as(scores)
    if tau is None:
        return valid
    relevant = torch.sigmoid(scores.detach()) >= tau
    allowed = relevant & valid
    empty_row = ~allowed.any(dim=-1, keepdim=True)
    # bool algebra rather than torch.where: onnxruntime has no bool Where
    return (empty_row & valid) | allowed


class AttentionTap(nn.Module):
    """Hook point of an MA block's attention weights: the identity on ``A``.

    ``forward(attn, allowed)`` returns ``attn`` unchanged. A forward hook
    registered on it (``block.attention_weights.register_forward_hook``)
    receives ``(attn, allowed)`` as its inputs: ``A`` of Eq. 3 after the
    Eq. 4 mask (``B x L_v x L_l``, masked pairs 0) and the pairs the mask
    keeps (bool, same shape). Readers such as
    :mod:`projects.risam.visualization.attention_maps` record the maps
    this way instead of recomputing the equations. No parameters (the
    state dict is unchanged); unhooked it costs one module call.
    """

    def forward(self, attn: Tensor, allowed: Tensor) -> Tensor:
        return attn


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

    Scale of ``A^T Z_v`` (``normalize_language_attn``). ``A`` is a softmax
    over the words, so ``A^T`` *sums* over all ``L_v`` pixels: word ``j``
    receives ``s_j = sum_i A[i, j]`` times a mean pixel feature, and the
    ``s_j`` of a sentence add up to ``L_v`` (every pixel row sums to 1).
    Measured per real word:

    - tiny demo model at initialisation, RefShapes val (``L_v = 16 x 16``,
      4.9 real tokens per sentence): ``s_j`` mean 51.9 (42-65) and
      ``|A^T Z_v| / |Z_l|`` = 2.9 in the first block, 52 in the second;
    - a SAM-sized block (``L_v = 64 x 64``, C = 256, 6 real tokens of 17,
      random features): ``s_j`` = 683 (674-693), ``|A^T Z_v| / |Z_l|``
      = 22.8.

    So ``Z_l`` is a small residual on the pixel sum that LN then rescales.
    With ``normalize_language_attn=True`` the language branch divides each
    word's column of ``A`` by ``s_j``: each word receives an
    attention-weighted *mean* of ``Z_v`` (weights over the pixels sum to 1),
    on the scale of ``Z_l``. Words that no pixel attends (padding, or every
    pair masked) keep ``s_j = 0`` and receive nothing, as before. ``F_lav``
    is unchanged.

    ``attention_weights`` (:class:`AttentionTap`) is the documented hook
    point for the masked ``A`` and the pairs Eq. 4 keeps.

    Args:
        visual_channels: ``C_v`` of ``F_v``.
        text_channels: ``C'`` of ``F_l``.
        channels: ``C`` of the joint space.
        tau: relevance threshold (paper: 0.35).
        use_attn_mask: False gives row #8 of Tab. 3 (padding still masked).
        normalize_language_attn: normalise ``A^T`` over the pixels in the
            ``F_val`` branch (see above). False (default) is Eq. 5 as
            printed.
    """

    def __init__(self,
                 *,
                 visual_channels: int,
                 text_channels: int,
                 channels: int = 256,
                 tau: float = 0.35,
                 use_attn_mask: bool = True,
                 normalize_language_attn: bool = False) -> None:
        super().__init__()
        self.normalize_language_attn = normalize_language_attn
        self.channels = channels
        self.tau = tau
        self.use_attn_mask = use_attn_mask
        self.visual_proj = nn.Linear(visual_channels, channels, bias=False)
        self.text_proj = nn.Linear(text_channels, channels, bias=False)
        self.visual_norm = nn.LayerNorm(channels)
        self.text_norm = nn.LayerNorm(channels)
        self.attention_weights = AttentionTap()

    def allowed_pairs(self, scores: Tensor, mask: Tensor) -> Tensor:
        """Bool ``B x L_v x L_l``: True where pixel i may attend word j."""
        return allowed_pairs(scores, mask,
                             self.tau if self.use_attn_mask else None)

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
        attn = self.attention_weights(
            logits.softmax(dim=-1) * allowed.to(scores.dtype), allowed)
        lav = self.visual_norm(attn @ z_l + z_v)
        val = self.text_norm(self.language_aggregate(attn, z_v) + z_l)
        return lav, val

    def language_aggregate(self, attn: Tensor, z_v: Tensor) -> Tensor:
        """``A^T Z_v`` of Eq. 5 (``B x L_l x C``) from ``A``
        (``B x L_v x L_l``) and ``Z_v`` (``B x L_v x C``); with
        ``normalize_language_attn`` each word's column of ``A`` is first
        divided by its sum over the pixels."""
        attn_t = attn.transpose(1, 2)
        if self.normalize_language_attn:
            total = attn_t.sum(-1, keepdim=True)
            attn_t = attn_t / total.clamp_min(torch.finfo(attn.dtype).tiny)
        return attn_t @ z_v
