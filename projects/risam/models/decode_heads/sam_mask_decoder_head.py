"""SAM's own mask decoder as a RIS head (paper Tab. 2 #3 and Tab. 11)."""
from typing import Dict, Optional

import torch
from segment_anything.modeling import MaskDecoder, TwoWayTransformer
from segment_anything.modeling.prompt_encoder import PositionEmbeddingRandom
from torch import Tensor, nn

from ...registry import MODELS
from ...utils.checkpoint import CheckpointError, load_state_dict_file
from .base_mask_head import BaseMaskHead


def load_sam_decoder_state(path: str) -> Dict[str, Tensor]:
    """``mask_decoder.*`` plus the two prompt-encoder tensors this head uses
    (``pe_layer`` Gaussian matrix and ``no_mask_embed``) from an official
    ``sam_vit_*.pth``, renamed to this module's keys."""
    state = load_state_dict_file(path)
    out = {k: v for k, v in state.items() if k.startswith('mask_decoder.')}
    for name in ('pe_layer.positional_encoding_gaussian_matrix',
                 'no_mask_embed.weight'):
        key = 'prompt_encoder.' + name
        if key not in state or not out:
            raise CheckpointError(
                f'{path}: not an official SAM checkpoint (no '
                f'{key if out else "mask_decoder.*"} entries)')
        out[name] = state[key]
    return out


@MODELS.register_module()
class SAMMaskDecoderHead(BaseMaskHead):
    """``segment_anything``'s ``MaskDecoder`` with the sentence as prompt.

    Reproduces paper Tab. 2 row #3 ("r. DE": the Mutual-Aware Mask Decoder
    replaced by SAM's decoder, after MA fusion) and, behind
    :class:`LinearProjectionNeck`, the "SAM" baseline of Tab. 11 (§5). Same
    interface as ``MutualAwareMaskDecoder``: ``forward(lav, val, mask)`` ->
    ``B x 1 x 4H x 4W`` logits, ``loss_by_feat``.

    What goes into SAM's decoder, per sample ``i`` (SAM's decoder takes one
    image embedding per prompt batch, so samples are decoded one by one):

    - ``image_embeddings``: ``F_lav[i]``, ``1 x C x H x W``;
    - ``image_pe``: SAM's random-Fourier position encoding of the
      ``H x W`` grid (``PositionEmbeddingRandom(C // 2)``), ``1 x C x H x W``;
    - ``sparse_prompt_embeddings``: the *real* word tokens of ``F_val[i]``
      (padding dropped), ``1 x n_i x C``; ``n_i = 0`` for an empty sentence.
      No pooled sentence feature is added (the segmentor hands heads only
      the token features);
    - ``dense_prompt_embeddings``: SAM's learned ``no_mask_embed`` broadcast
      to ``1 x C x H x W`` (no mask prompt);
    - ``multimask_output=False``: the single-mask token's output is used.

    SAM's IoU head and the hyper-network MLPs of the three multi-mask tokens
    do not reach the output, so they are frozen (no unused trainable
    parameters under DDP). ``no_mask_embed`` belongs to SAM's prompt
    encoder, not its mask decoder, and is frozen too. ``checkpoint`` loads SAM's pretrained decoder,
    ``pe_layer`` and ``no_mask_embed`` from an official SAM file (strict;
    needs ``in_channels=256`` and the default decoder sizes).

    Args:
        in_channels: ``C`` (SAM: 256).
        num_heads: heads of the two-way transformer (SAM: 8).
        depth: two-way transformer blocks (SAM: 2).
        mlp_dim: MLP width in the transformer (SAM: 2048).
        num_multimask_outputs: SAM: 3 (kept for checkpoint compatibility).
        iou_head_depth, iou_head_hidden_dim: SAM's IoU head sizes.
        checkpoint: optional official ``sam_vit_*.pth``.
        loss_decode: loss config (Eq. 10-12).
    """

    def __init__(self,
                 *,
                 in_channels: int = 256,
                 num_heads: int = 8,
                 depth: int = 2,
                 mlp_dim: int = 2048,
                 num_multimask_outputs: int = 3,
                 iou_head_depth: int = 3,
                 iou_head_hidden_dim: int = 256,
                 checkpoint: Optional[str] = None,
                 loss_decode: dict = dict(type='risam.RISAMFocalDiceLoss'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(loss_decode=loss_decode, init_cfg=init_cfg)
        c = in_channels
        self.pe_layer = PositionEmbeddingRandom(c // 2)
        self.no_mask_embed = nn.Embedding(1, c)
        self.mask_decoder = MaskDecoder(
            transformer_dim=c,
            transformer=TwoWayTransformer(depth=depth, embedding_dim=c,
                                          num_heads=num_heads,
                                          mlp_dim=mlp_dim),
            num_multimask_outputs=num_multimask_outputs,
            iou_head_depth=iou_head_depth,
            iou_head_hidden_dim=iou_head_hidden_dim)
        if checkpoint is not None:
            self.load_state_dict(load_sam_decoder_state(checkpoint),
                                 strict=True)
        # SAM's prompt encoder part (no_mask_embed; pe_layer is a buffer)
        # stays as loaded: only SAM's mask decoder trains (paper §5).
        self.no_mask_embed.requires_grad_(False)
        self.mask_decoder.iou_prediction_head.requires_grad_(False)
        for mlp in self.mask_decoder.output_hypernetworks_mlps[1:]:
            mlp.requires_grad_(False)

    def forward(self, lav: Tensor, val: Tensor, mask: Tensor) -> Tensor:
        """Mask logits.

        Args:
            lav: image embeddings, ``B x C x H x W``.
            val: prompt word tokens, ``B x L x C``.
            mask: ``B x L`` bool, True for real words.

        Returns:
            ``B x 1 x 4H x 4W`` logits.
        """
        b, c, h, w = lav.shape
        image_pe = self.pe_layer((h, w))[None].to(lav.dtype)
        dense = self.no_mask_embed.weight.reshape(1, c, 1, 1).expand(
            1, c, h, w)
        masks = []
        for i in range(b):
            sparse = val[i][mask[i].bool()][None]
            logits, _ = self.mask_decoder(
                image_embeddings=lav[i:i + 1], image_pe=image_pe,
                sparse_prompt_embeddings=sparse,
                dense_prompt_embeddings=dense, multimask_output=False)
            masks.append(logits)
        return torch.cat(masks, dim=0)


__all__ = ['SAMMaskDecoderHead', 'load_sam_decoder_state']
