"""Mutual-Aware Mask Decoder (paper §3.4, Eq. 6-9)."""
from typing import Dict, Optional

import torch
from torch import Tensor, nn

from ...registry import MODELS
from ..layers import PositionTables, SDPAMultiheadAttention, sincos_pos_embed_2d
from .base_mask_head import BaseMaskHead
from .no_target_head import NoTargetHead
from .visual_query_generation import VisualQueryGeneration


class MutualAwareDecoderLayer(nn.Module):
    """One decoder layer (Eq. 6, 8, 9), post-norm residuals.

    ::

        F_lav^ = LN(MHSA(F_lav) + F_lav)                               (Eq. 6)
        F_c^   = LN(MHSA(F_c) + F_c),  F_c = [F_m; F_val]              (Eq. 8)
        F_lav- = LN(MHCA(F_lav^, F_c^, F_c^) + F_lav^)                 (Eq. 9)

    The LayerNorms after each residual are ours (the paper prints bare
    residuals; post-norm follows SAM's decoder and keeps stacked layers
    stable). Padding words are excluded as keys in Eq. 8 and Eq. 9; the query
    token is always a valid key, so no attention row is ever empty.

    ``token_to_image_attn=True`` (paper Tab. 5, row #9 "w/ TOI-A") inserts
    SAM's token-to-image attention between Eq. 8 and Eq. 9, where SAM's
    two-way block has it (before its image-to-token attention)::

        F_c^ = LN(MHCA(F_c^, F_lav^, F_lav^) + F_c^)

    i.e. the query token and words query the visual features. Off by default
    (no extra parameters, behaviour unchanged).

    ``pos`` (``1 x L_v x C`` or None): an image positional encoding added,
    as in DETR and Mask2Former, to the visual queries and keys of Eq. 6, to
    the visual queries of Eq. 9 (and to the visual keys of TOI-A); never to
    the values, so the features themselves are not changed by it.
    """

    def __init__(self, *, channels: int, num_heads: int,
                 token_to_image_attn: bool = False) -> None:
        super().__init__()
        self.token_to_image_attn = token_to_image_attn
        if token_to_image_attn:
            self.toi_attn = SDPAMultiheadAttention(channels, num_heads)
            self.norm_toi = nn.LayerNorm(channels)
        self.visual_self_attn = SDPAMultiheadAttention(channels, num_heads)
        self.text_self_attn = SDPAMultiheadAttention(channels, num_heads)
        self.cross_attn = SDPAMultiheadAttention(channels, num_heads)
        self.norm_visual = nn.LayerNorm(channels)
        self.norm_text = nn.LayerNorm(channels)
        self.norm_cross = nn.LayerNorm(channels)

    def forward(self, lav: Tensor, fc: Tensor, fc_pad: Tensor,
                pos: Optional[Tensor] = None):
        """``lav``: ``B x L_v x C``; ``fc``: ``B x (1 + L) x C``; ``fc_pad``:
        ``B x (1 + L)`` bool, True at padding; ``pos``: ``1 x L_v x C`` or
        None. Returns both evolved."""
        lav_q = lav if pos is None else lav + pos
        lav = self.norm_visual(lav + self.visual_self_attn(
            lav_q, lav_q, lav, need_weights=False)[0])
        fc = self.norm_text(fc + self.text_self_attn(
            fc, fc, fc, key_padding_mask=fc_pad, need_weights=False)[0])
        lav_q = lav if pos is None else lav + pos
        if self.token_to_image_attn:
            fc = self.norm_toi(fc + self.toi_attn(
                fc, lav_q, lav, need_weights=False)[0])
        lav = self.norm_cross(lav + self.cross_attn(
            lav_q, fc, fc, key_padding_mask=fc_pad, need_weights=False)[0])
        return lav, fc


@MODELS.register_module()
class MutualAwareMaskDecoder(BaseMaskHead):
    """Decode ``(F_lav, F_val)`` into one mask-logit map per sample.

    ``num_layers`` :class:`MutualAwareDecoderLayer` s, then ``F_lav`` is
    up-sampled 4x by two (ConvTranspose2d 2x2/2 + BN + GELU) blocks, the
    evolved multi-modal query token ``F_m^`` goes through an MLP, and the
    mask is their dot product (§3.4).

    Sizes the paper does not give, ours (SAM's mask decoder has the same):
    2 layers of 8 heads; the up-sampling blocks take the channels
    ``C -> C/4 -> C/8`` (256 -> 64 -> 32); the paper's "a MLP layer" is a
    3-layer MLP ``C -> C -> C -> C/8`` with ReLUs, like SAM's
    hyper-network MLPs. The GELUs are ours too (two purely linear blocks
    would collapse into one, and SAM's upscaler has them).

    Args:
        in_channels: ``C`` of ``F_lav``/``F_val``.
        num_heads: heads of every MHSA/MHCA.
        num_layers: stacked decoder layers.
        extra_linguistic_guidance: False is Tab. 5 row #10 "w/o ELG": the
            decoder receives ``F_lav`` only (``F_val`` is not used), and its
            query token is generated from ``F_lav`` as VLT's queries are
            (:class:`VisualQueryGeneration`, ``F_m = token + q(F_lav)``).
            Without that, ``F_c`` would be the learned token alone; it
            attends only to itself in Eq. 8 and is never a query over
            ``F_lav``, so the mask weights would be one constant vector for
            every image and sentence.
        token_to_image_attn: add SAM's token-to-image attention to every
            layer (Tab. 5, row #9); False (default) is the paper's decoder.
        image_pos_embed: add a fixed 2-D sine-cosine encoding of each visual
            token's grid position to the visual queries and keys of every
            attention (see :class:`MutualAwareDecoderLayer`). The paper's
            decoder has none (False, the default): its attention over
            pixels is then blind to pixel order, and "left"/"right" can only
            be read if every earlier trained stage keeps position in the
            features. DETR, Mask2Former (whose mask classification §3.4
            builds on) and SAM's own decoder all add one; it has no
            parameters.
        no_target_head: not in the paper. None (default): the decoder is
            the paper's. A dict of :class:`NoTargetHead` options (``{}`` for
            its defaults) adds a linear no-target score on the evolved query
            token ``F_m^``, as ReLA does: trained with BCE against "the
            target is empty" (``loss_no_target``, added to Eq. 12), and at
            inference the mask of a sample whose score says "none" is
            suppressed (``mask_loss_on_empty=False`` also leaves the
            no-target samples out of Eq. 12). The last forward's scores
            (``B`` logits) are kept in :attr:`no_target_logits`.
        loss_decode: loss config (Eq. 10-12).
    """

    def __init__(self,
                 *,
                 in_channels: int = 256,
                 num_heads: int = 8,
                 num_layers: int = 2,
                 extra_linguistic_guidance: bool = True,
                 token_to_image_attn: bool = False,
                 image_pos_embed: bool = False,
                 no_target_head: Optional[dict] = None,
                 loss_decode: dict = dict(type='risam.RISAMFocalDiceLoss'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(loss_decode=loss_decode, init_cfg=init_cfg)
        c = in_channels
        self.extra_linguistic_guidance = extra_linguistic_guidance
        self.image_pos_embed = image_pos_embed
        # built once per feature-map size on its device (no state)
        self._pos_tables = PositionTables(sincos_pos_embed_2d)
        self.query_token = nn.Parameter(torch.randn(1, 1, c) * 0.02)
        if not extra_linguistic_guidance:
            self.query_generation = VisualQueryGeneration(channels=c)
        self.layers = nn.ModuleList(
            MutualAwareDecoderLayer(channels=c, num_heads=num_heads,
                                    token_to_image_attn=token_to_image_attn)
            for _ in range(num_layers))
        self.upsample = nn.Sequential(
            nn.ConvTranspose2d(c, c // 4, 2, stride=2),
            nn.BatchNorm2d(c // 4), nn.GELU(),
            nn.ConvTranspose2d(c // 4, c // 8, 2, stride=2),
            nn.BatchNorm2d(c // 8), nn.GELU())
        self.query_mlp = nn.Sequential(
            nn.Linear(c, c), nn.ReLU(), nn.Linear(c, c), nn.ReLU(),
            nn.Linear(c, c // 8))
        self.no_target_head = (NoTargetHead(channels=c, **no_target_head)
                               if no_target_head is not None else None)
        self.no_target_logits: Optional[Tensor] = None

    def forward(self, lav: Tensor, val: Tensor, mask: Tensor) -> Tensor:
        """Mask logits.

        Args:
            lav: ``F_lav``, ``B x C x H x W``.
            val: ``F_val``, ``B x L x C``.
            mask: ``B x L`` bool, True for real words.

        Returns:
            ``B x 1 x 4H x 4W`` logits.
        """
        b, c, h, w = lav.shape
        query = self.query_token.expand(b, -1, -1)
        pad = torch.zeros(b, 1, dtype=torch.bool, device=lav.device)
        if self.extra_linguistic_guidance:
            fc = torch.cat([query, val], dim=1)
            pad = torch.cat([pad, ~mask.bool()], dim=1)
        else:  # Tab. 5 #10: the query from F_lav, no F_val
            fc = query + self.query_generation(lav)[:, None]
        x = lav.flatten(2).transpose(1, 2)
        pos = None
        if self.image_pos_embed:
            pos = self._pos_tables(h, w, c, like=x).reshape(1, h * w, c)
        for layer in self.layers:
            x, fc = layer(x, fc, pad, pos)
        up = self.upsample(x.transpose(1, 2).reshape(b, c, h, w))
        weights = self.query_mlp(fc[:, 0])
        logits = torch.einsum('bc,bchw->bhw', weights, up)[:, None]
        if self.no_target_head is not None:
            self.no_target_logits = self.no_target_head(fc[:, 0])
            if not self.training:
                logits = self.no_target_head.suppress(
                    logits, self.no_target_logits)
        return logits

    def loss_by_feat(self, logits: Tensor, gt: Tensor) -> Dict[str, Tensor]:
        """Eq. 12, plus ``loss_no_target`` on the scores of the forward that
        gave ``logits`` when the no-target head is on."""
        if self.no_target_head is None:
            return super().loss_by_feat(logits, gt)
        if self.no_target_logits is None:
            raise RuntimeError('loss_by_feat before any forward')
        losses = super().loss_by_feat(
            logits, self.no_target_head.mask_target(gt))
        losses.update(self.no_target_head.loss(self.no_target_logits, gt))
        return losses
