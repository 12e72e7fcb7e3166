"""Shared helpers of the checkpoint tests: a tiny RISAM's frozen encoders
written as their own official-format files."""
from functools import partial
from pathlib import Path
from typing import Callable, Tuple

import pytest
import torch
from segment_anything.modeling import ImageEncoderViT
from torch import nn


def write_encoder_files(model: nn.Module, folder: Path) -> Tuple[Path, Path]:
    """The tiny model's frozen encoders as their own official-format files:
    SAM (``image_encoder.*``) and open_clip (text tower keys)."""
    arch = model.backbone.arch_cfg
    ref = ImageEncoderViT(
        img_size=arch['img_size'], patch_size=arch['patch_size'],
        embed_dim=arch['embed_dim'], depth=arch['depth'],
        num_heads=arch['num_heads'], mlp_ratio=arch['mlp_ratio'],
        out_chans=arch['out_chans'], qkv_bias=True,
        norm_layer=partial(nn.LayerNorm, eps=1e-6), use_rel_pos=True,
        window_size=arch['window_size'],
        global_attn_indexes=tuple(arch['global_attn_indexes']))
    # the official file has SAM's neck, which the backbone drops
    missing = ref.load_state_dict(model.backbone.encoder.state_dict(),
                                  strict=False).missing_keys
    assert missing and all(k.startswith('neck.') for k in missing)
    sam = folder / 'sam.pth'
    torch.save({f'image_encoder.{k}': v for k, v in
                ref.state_dict().items()}, sam)
    clip = folder / 'clip.pth'
    torch.save(model.text_encoder.text.state_dict(), clip)
    return sam, clip


@pytest.fixture(scope='session')
def encoder_files() -> Callable[[nn.Module, Path], Tuple[Path, Path]]:
    """:func:`write_encoder_files`, for the tests of this folder."""
    return write_encoder_files
