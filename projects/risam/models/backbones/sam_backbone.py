"""Frozen SAM ViT image encoder + Feature Enhancement (paper §3.1-3.2)."""
from functools import partial
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from segment_anything.modeling import ImageEncoderViT
from torch import Tensor, nn

from ...registry import MODELS
from ...utils.checkpoint import load_state_dict_file
from ..layers import sincos_pos_embed_2d, swap_sam_attention
from ..necks.feature_enhancement import FeatureEnhancement
from .base_visual_backbone import BaseVisualBackbone, state_fingerprint
from .encoder_dtype import cast_matmul_weights, encoder_autocast, resolve_encoder_dtype

# Encoder hyper-parameters of the official checkpoints (segment_anything's
# build_sam.py); img_size 1024, patch 16, window 14, relative positions.
SAM_ARCHS: Dict[str, dict] = {
    'vit_b': dict(embed_dim=768, depth=12, num_heads=12,
                  global_attn_indexes=(2, 5, 8, 11)),
    'vit_l': dict(embed_dim=1024, depth=24, num_heads=16,
                  global_attn_indexes=(5, 11, 17, 23)),
    'vit_h': dict(embed_dim=1280, depth=32, num_heads=16,
                  global_attn_indexes=(7, 15, 23, 31)),
}
_DEFAULTS = dict(img_size=1024, patch_size=16, window_size=14, mlp_ratio=4.0,
                 out_chans=256, use_rel_pos=True)


def load_sam_image_encoder_state(path: str) -> Dict[str, Tensor]:
    """Read the ``image_encoder.*`` entries of an official SAM checkpoint.

    A file that already holds bare encoder keys is accepted as well. A
    zip-format file (``torch.save``'s default) is memory-mapped: its tensors
    are read from the page cache on first use, not copied.
    """
    return load_state_dict_file(path, prefix='image_encoder.', mmap=True)


@MODELS.register_module()
class SAMBackbone(BaseVisualBackbone):
    """SAM's ViT image encoder (frozen) followed by Feature Enhancement.

    The encoder is ``segment_anything.modeling.ImageEncoderViT`` itself, not
    mmpretrain's ``ViTSAM``: the official ``sam_vit_*.pth`` files then load
    with their own key names (``image_encoder.*`` minus the prefix) under
    ``strict=True`` and the numerics are the reference implementation's by
    construction; ``ViTSAM`` would need a key conversion and parity checks of
    its own. Only the block loop is re-driven here, to tap intermediate
    blocks and stop after the last one needed; SAM's own neck is dropped
    after loading (the paper taps the blocks before it).

    Data flow::

        B x 3 x S x S -> patch embed (+ pos) -> blocks -> taps at the selected
        global-attention blocks (B x C_e x S/16 x S/16 each)
        -> FeatureEnhancement (Eq. 1-2) -> F_v: B x C x S/16 x S/16

    Args:
        arch: ``'vit_b' | 'vit_l' | 'vit_h'`` or a dict of
            ``ImageEncoderViT`` arguments (``embed_dim, depth, num_heads,
            global_attn_indexes`` and optionally ``img_size, patch_size,
            window_size, mlp_ratio, out_chans, use_rel_pos``).
        checkpoint: path to an official SAM checkpoint (or an encoder-only
            state dict). Loaded strictly, unchanged. With ``frozen``, a RISAM
            checkpoint may then omit the ``encoder.*`` weights.
        out_global_blocks: which global-attention blocks to return, as
            0-based positions in ``global_attn_indexes``; ``(1, 2, 3)`` = the
            paper's 2nd-4th global blocks.
        feature_enhancement: kwargs of :class:`FeatureEnhancement` (e.g.
            ``dict(out_channels=256)``), or ``None`` to return the raw taps.
        frozen: keep the encoder in eval mode without gradients (paper).
        sam_neck: keep SAM's own neck (conv1x1-LN-conv3x3-LN, loaded and
            frozen with the rest of the encoder) and return SAM's image
            embedding ``B x out_chans x S/16 x S/16`` as the single output:
            SAM's whole image encoder, as the "SAM" baseline of Tab. 11
            uses it. Needs ``out_global_blocks`` to be the last global block
            only (the neck reads the last block) and no Feature Enhancement.
            Defaults to False (the paper taps the blocks before the neck).
        init_pos_embed: ``None`` keeps segment_anything's zero-initialised
            absolute position embedding; ``'sincos'`` fills it with a fixed
            2-D sine-cosine table. Only used when ``checkpoint`` is None: a
            frozen *random* SAM encoder is otherwise position-blind (its
            relative-position tables are zero too). Never touches real
            checkpoints.
        attn_impl: ``'sdpa'`` (default) swaps every block's ``attn`` for
            :class:`SAMSDPAttention`: fused SDPA kernel, same parameters
            and state-dict keys, equal within 1e-4 in fp32, faster and far
            leaner (``.dev_scripts/benchmark_ratios.py``). ``'sam'`` runs
            segment_anything's own attention. The feature-cache
            fingerprint ignores it.
        encoder_dtype: ``'fp32'`` or ``'bf16'``, the one control of the
            encoder's compute dtype (``--amp`` does not reach it). bf16
            stores the frozen encoder's matmul weights in bf16 once and runs
            it under autocast on its device (CUDA, or a CPU with native
            bf16: avx512_bf16/amx_bf16); on a CPU without native bf16 and no
            CUDA it falls back to fp32 with one log line
            (:mod:`.encoder_dtype`). Outputs are fp32 either way; bf16
            features differ from fp32 by ~0.5% (relative, vit_b at 1024).
            Tests and tools that compare two paths for equality pin
            ``'fp32'``. A trainable (``frozen=False``) encoder keeps fp32
            weights and only runs under autocast.

    Stages: :meth:`encode` is the frozen part (shareable between the
    sentences of one image and cacheable on disk, see
    :meth:`fingerprint`), :meth:`enhance` the trainable FE;
    ``forward = enhance(encode(x))``.
    """

    def __init__(self,
                 *,
                 arch: str | dict = 'vit_h',
                 checkpoint: Optional[str] = None,
                 out_global_blocks: Sequence[int] = (1, 2, 3),
                 feature_enhancement: Optional[dict] = dict(out_channels=256),
                 frozen: bool = True,
                 sam_neck: bool = False,
                 init_pos_embed: Optional[str] = None,
                 attn_impl: str = 'sdpa',
                 encoder_dtype: str = 'fp32',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if attn_impl not in ('sam', 'sdpa'):
            raise ValueError(f"attn_impl must be 'sam' or 'sdpa', got "
                             f'{attn_impl!r}')
        cfg = dict(_DEFAULTS)
        cfg.update(SAM_ARCHS[arch] if isinstance(arch, str) else arch)
        self.arch_cfg = dict(cfg, global_attn_indexes=list(
            cfg['global_attn_indexes']))
        self.attn_impl = attn_impl
        self.encoder_dtype = resolve_encoder_dtype(encoder_dtype,
                                                   'SAMBackbone')
        self.embed_dim = cfg['embed_dim']
        # From a checkpoint: built on the meta device and given the file's
        # (memory-mapped) tensors themselves, so start-up holds one copy of
        # the weights, in the page cache that the ranks of a node share,
        # instead of a random init plus a full host copy of the file.
        with torch.device('meta' if checkpoint is not None else 'cpu'):
            self.encoder = ImageEncoderViT(
                img_size=cfg['img_size'], patch_size=cfg['patch_size'],
                embed_dim=cfg['embed_dim'], depth=cfg['depth'],
                num_heads=cfg['num_heads'], mlp_ratio=cfg['mlp_ratio'],
                out_chans=cfg['out_chans'], qkv_bias=True,
                norm_layer=partial(nn.LayerNorm, eps=1e-6),
                use_rel_pos=cfg['use_rel_pos'],
                window_size=cfg['window_size'],
                global_attn_indexes=tuple(cfg['global_attn_indexes']))
        global_idx = tuple(cfg['global_attn_indexes'])
        self.out_indices: Tuple[int, ...] = tuple(
            global_idx[i] for i in out_global_blocks)
        if checkpoint is not None:
            self.encoder.load_state_dict(
                load_sam_image_encoder_state(checkpoint), strict=True,
                assign=True)
            self.encoder.float()  # as a built encoder is (official: fp32)
        elif init_pos_embed == 'sincos':
            pe = self.encoder.pos_embed
            pe.data.copy_(sincos_pos_embed_2d(pe.shape[1], pe.shape[2],
                                              pe.shape[3]))
        elif init_pos_embed is not None:
            raise ValueError(f'unknown init_pos_embed {init_pos_embed!r}')
        self.sam_neck = sam_neck
        if sam_neck and (self.out_indices != (cfg['depth'] - 1, )
                         or feature_enhancement is not None):
            raise ValueError(
                'sam_neck=True returns SAM\'s image embedding: it needs '
                'out_global_blocks=(last,) and feature_enhancement=None')
        # SAM's neck (unless kept) and blocks after the last tap are unused.
        if not sam_neck:
            self.encoder.neck = nn.Identity()
        del self.encoder.blocks[max(self.out_indices) + 1:]
        if attn_impl == 'sdpa':
            swap_sam_attention(self.encoder)
        self.frozen = frozen
        if frozen:
            self.encoder.requires_grad_(False)
            self.encoder.eval()
            if self.encoder_dtype == 'bf16':
                # copied out of the mapped file, whose pages are given back
                # tensor by tensor: start-up holds the bf16 copies only
                cast_matmul_weights(self.encoder, torch.bfloat16,
                                    mapped_file=checkpoint)
        # frozen weights read from ``checkpoint`` here: a RISAM checkpoint
        # may leave them out (see projects.risam.utils.checkpoint)
        self.frozen_pretrained_prefixes: Tuple[str, ...] = (
            ('encoder.', ) if frozen and checkpoint is not None else ())
        self.feature_enhancement = None
        if feature_enhancement is not None:
            fe_cfg = dict(feature_enhancement)
            fe_cfg.pop('type', None)
            self.feature_enhancement = FeatureEnhancement(
                in_channels=[self.embed_dim] * len(self.out_indices),
                **fe_cfg)

    @property
    def encoder_frozen(self) -> bool:
        """The ViT is frozen (the paper's setting), so its taps are
        shareable between sentences and cacheable."""
        return self.frozen

    def train(self, mode: bool = True) -> 'SAMBackbone':
        """Keep a frozen encoder in eval mode whatever ``mode`` is."""
        super().train(mode)
        if self.frozen:
            self.encoder.eval()
        return self

    def _pos_embed(self, h: int, w: int) -> Tensor:
        pe = self.encoder.pos_embed
        if pe.shape[1:3] == (h, w):
            return pe
        pe = F.interpolate(pe.permute(0, 3, 1, 2), size=(h, w),
                           mode='bicubic', align_corners=False)
        return pe.permute(0, 2, 3, 1)

    def fingerprint(self) -> dict:
        """What the frozen :meth:`encode` depends on: the encoder config,
        the tapped blocks, the sha256 of the encoder's state dict (so a
        checkpoint file and a random init are both covered) and, for a bf16
        encoder, its dtype. Used by the
        feature cache to refuse a model that differs."""
        return dict(arch=dict(self.arch_cfg),
                    out_indices=list(self.out_indices),
                    sam_neck=self.sam_neck,
                    encoder_sha256=state_fingerprint(self.encoder),
                    # bf16 features are not fp32 ones; fp32 keeps the key
                    # set of caches written before the option existed
                    **({'encoder_dtype': 'bf16'}
                       if self.encoder_dtype == 'bf16' else {}))

    def encode(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Raw block outputs, ``B x 3 x S x S`` -> tuple of
        ``B x C_e x S/p x S/p`` (one per selected global block), fp32; with
        ``sam_neck`` SAM's image embedding ``(B x out_chans x S/p x S/p,)``."""
        if self.encoder_dtype == 'bf16' and torch.onnx.is_in_onnx_export():
            raise RuntimeError(
                'ONNX export needs an fp32 SAM encoder: build the model with '
                '--cfg-options model.backbone.encoder_dtype=fp32')
        with torch.set_grad_enabled(torch.is_grad_enabled()
                                    and not self.frozen), encoder_autocast(
                                        x.device.type, self.encoder_dtype):
            x = self.encoder.patch_embed(x)
            if self.encoder.pos_embed is not None:
                x = x + self._pos_embed(x.shape[1], x.shape[2])
            outs = []
            for i, block in enumerate(self.encoder.blocks):
                x = block(x)
                if i in self.out_indices:
                    outs.append(x.permute(0, 3, 1, 2))
            if self.sam_neck:
                outs = [self.encoder.neck(outs[-1])]
        return tuple(o.float().contiguous() for o in outs)

    def enhance(self, feats: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        """Trainable part: raw taps -> ``(F_v,)`` (identity without FE)."""
        if self.feature_enhancement is None:
            return tuple(feats)
        return (self.feature_enhancement(feats), )

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """``B x 3 x S x S`` -> ``(F_v,)`` with ``F_v: B x C x S/p x S/p``,
        or the raw taps when ``feature_enhancement`` is None."""
        return self.enhance(self.encode(x))


__all__ = ['SAM_ARCHS', 'SAMBackbone', 'sincos_pos_embed_2d']
