"""``bf16``: ``SAMBackbone.encode`` with ``encoder_dtype='bf16'`` against
``'fp32'`` (time, and the bf16 features' largest relative error)."""
from typing import Dict

import torch

from ..timing import interleaved

__all__ = ['bench_encoder_bf16']


def bench_encoder_bf16(arch: dict, size: int, reps: int) -> Dict[str, object]:
    """``encoder_bf16_time_ratio`` (bf16 / fp32), ``encoder_bf16_max_rel_err``
    (largest error over the largest fp32 feature, all four global blocks
    tapped, same random weights) and ``encoder_bf16_native`` (False: this
    CPU has no native bf16 and the encoder fell back to fp32)."""
    from projects.risam.models.backbones.sam_backbone import SAMBackbone
    kw = dict(arch=dict(arch, img_size=size, patch_size=16, window_size=14),
              out_global_blocks=(0, 1, 2, 3), feature_enhancement=None)
    fp32 = SAMBackbone(**kw, encoder_dtype='fp32')
    with torch.no_grad():
        for name, p in fp32.encoder.named_parameters():
            if 'rel_pos' in name or 'pos_embed' in name:
                p.normal_(0, 0.1)
    bf16 = SAMBackbone(**kw, encoder_dtype='bf16')
    bf16.encoder.load_state_dict(fp32.encoder.state_dict())
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        want, got = fp32.encode(x), bf16.encode(x)
        t_32, t_16 = interleaved(lambda: fp32.encode(x), lambda: bf16.encode(x),
                                 reps=reps)
    rel = max(((g - w).abs().max() / w.abs().max()).item()
              for w, g in zip(want, got))
    return dict(encoder_bf16_time_ratio=t_16 / t_32,
                encoder_bf16_max_rel_err=rel,
                encoder_bf16_native=bf16.encoder_dtype == 'bf16',
                encoder_bf16_time_s=dict(fp32=t_32, bf16=t_16))
