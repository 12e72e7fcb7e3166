"""What the regression ratios share: the quick encoder, the sentences, the
config files and the RISAM models built from them.

The config paths are relative to the repository root (the harness runs
from there).
"""
from typing import Sequence

import torch
from torch import nn

from ..build import build_risam, with_sam_arch
from ..synthetic_batch import box_masks, data_samples

__all__ = ['DEMO', 'QUICK_ARCH', 'SENTENCES', 'TINY', 'VIT_B_LEAF', 'VIT_B_MODEL',
           'random_uint8_images', 'refer_samples', 'risam_model']

TINY = 'configs/risam/_base_/models/risam_tiny.py'
DEMO = 'configs/risam/risam_tiny-vit_1xb16-3kit_refshapes-128x128.py'
VIT_B_MODEL = 'configs/risam/_base_/models/risam_sam-vit-b.py'
VIT_B_LEAF = 'configs/risam/risam_sam-vit-h_8xb4-50e_refcoco-1024x1024.py'
#: a SAM encoder small enough for ``--quick`` (tests: keys and sanity only)
QUICK_ARCH = dict(embed_dim=64, depth=4, num_heads=2,
                  global_attn_indexes=(0, 1, 2, 3))
#: k = 7 sentences of one image
SENTENCES = ['the red square', 'the big circle on the left', 'blue one',
             'the small green triangle', 'top right', 'the shape in the middle',
             'bottom']


def risam_model(arch: dict, size: int, **changes) -> nn.Module:
    """The tiny config's RISAM (text encoder, fusion, decoder) with a random
    SAM encoder of ``arch`` at ``size`` px, seed 0; ``changes`` go to the
    model config (e.g. ``share_image_encoding=False``)."""
    from mmengine.config import Config
    return build_risam(with_sam_arch(Config.fromfile(TINY).model, arch, size),
                       **changes)


def refer_samples(size: int, img_ids: Sequence[int],
                  texts: Sequence[str]) -> list:
    """mmseg data samples, one per ``(img_id, text)``, with the fixed box
    target of :func:`~..synthetic_batch.box_masks`."""
    from mmseg.structures import SegDataSample
    n = min(len(img_ids), len(texts))
    return data_samples(size, list(img_ids)[:n], list(texts)[:n],
                        box_masks(n, size),
                        sample_type=SegDataSample)


def random_uint8_images(n: int, size: int, seed: int) -> list:
    """``n`` random ``3 x size x size`` uint8 images, drawn after seeding
    torch's global generator with ``seed``."""
    torch.manual_seed(seed)
    return [torch.randint(0, 256, (3, size, size), dtype=torch.uint8)
            for _ in range(n)]
