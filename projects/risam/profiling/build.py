"""Models with random weights, built from a config (nothing is read or
downloaded).

- :func:`config_without_checkpoints`: a config whose frozen encoders name no
  checkpoint file, so building it initialises them at random.
- :func:`build_core`: the config's model as
  :class:`~projects.risam.models.RISAMCore` (torch and mmengine only).
- :func:`build_risam`: the config's model through mmseg's registry
  (``risam.RISAM`` with its data preprocessor; needs mmsegmentation).
- :func:`with_sam_arch` and :func:`sam_encoder`: a model config with another
  SAM encoder size, and segment_anything's own encoder, random.

Each builder seeds torch first, so two builds of one config are equal.
"""
import copy
from functools import partial
from typing import Optional

import torch
from torch import nn

__all__ = ['build_core', 'build_risam', 'config_without_checkpoints', 'input_size',
           'sam_encoder', 'with_sam_arch']


def config_without_checkpoints(config: str, **changes):
    """``config`` (a file) with ``model.backbone.checkpoint`` and
    ``model.text_encoder.pretrained`` set to None, and ``changes`` applied
    to its ``model``; an ``mmengine.config.Config``."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    cfg.model.backbone.checkpoint = None
    cfg.model.text_encoder.pretrained = None
    cfg.model.update(changes)
    return cfg


def build_core(model_cfg, device: torch.device, seed: int = 0) -> nn.Module:
    """``model_cfg`` (a ``risam.RISAM`` config) as a
    :class:`~projects.risam.models.RISAMCore`: RISAM's stages, loss and
    ``forward``, which RISAM inherits unchanged, without mmseg's
    ``BaseSegmentor`` and data preprocessor (feed it normalised inputs, as
    the preprocessor hands them to the model)."""
    from projects.risam.models import RISAMCore
    kwargs = {k: v for k, v in dict(model_cfg).items()
              if k not in ('type', 'data_preprocessor')}
    torch.manual_seed(seed)
    return RISAMCore(**kwargs).to(device)


def build_risam(model_cfg, seed: int = 0, **changes) -> nn.Module:
    """``model_cfg`` with ``changes`` built through mmseg's ``MODELS`` (in
    the ``mmseg`` scope): ``risam.RISAM`` with its data preprocessor, as
    training and inference build it."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    cfg = copy.deepcopy(model_cfg)
    cfg.update(changes)
    torch.manual_seed(seed)
    return MODELS.build(cfg)


def with_sam_arch(model_cfg, arch: dict, size: int, *, patch_size: int = 16,
                  window_size: int = 14):
    """A copy of ``model_cfg`` whose SAM backbone is ``arch`` (``embed_dim,
    depth, num_heads, global_attn_indexes``) at ``size`` square input, with
    sin-cos position embeddings (a random table would be noise), and whose
    data preprocessor pads and resizes to ``size``."""
    cfg = copy.deepcopy(model_cfg)
    cfg.backbone.arch = dict(arch, img_size=size, patch_size=patch_size,
                             window_size=window_size)
    cfg.backbone.init_pos_embed = 'sincos'
    if cfg.get('data_preprocessor') is not None:
        cfg.data_preprocessor.size = (size, size)
        cfg.data_preprocessor.test_cfg = dict(size=(size, size))
    return cfg


def input_size(model_cfg) -> int:
    """The side of the config's square input (its data preprocessor's
    ``size``; SAM's 1024 when it has none)."""
    size = (model_cfg.get('data_preprocessor') or {}).get('size')
    return int(size[0]) if size else 1024


def sam_encoder(arch: dict, size: int, seed: int = 0,
                rel_pos_std: Optional[float] = 0.1) -> nn.Module:
    """segment_anything's ``ImageEncoderViT`` of ``arch`` at ``size``, in
    eval mode, random; its relative- and absolute-position tables (zeros
    at init) drawn from N(0, ``rel_pos_std``) unless that is None."""
    from segment_anything.modeling import ImageEncoderViT
    torch.manual_seed(seed)
    enc = ImageEncoderViT(
        img_size=size, patch_size=16, embed_dim=arch['embed_dim'],
        depth=arch['depth'], num_heads=arch['num_heads'], mlp_ratio=4.0,
        out_chans=256, qkv_bias=True,
        norm_layer=partial(nn.LayerNorm, eps=1e-6), use_rel_pos=True,
        window_size=14, global_attn_indexes=arch['global_attn_indexes'])
    if rel_pos_std is not None:
        with torch.no_grad():
            for name, p in enc.named_parameters():
                if 'rel_pos' in name or 'pos_embed' in name:
                    p.normal_(0, rel_pos_std)
    return enc.eval()
