"""The GPU check's measurements and its report (``tools/analysis_tools/
gpu_check.py``; docs/gpu_check.md).

- :func:`measure_encoder`: the frozen SAM encoder's images/s and peak
  memory, fp32 and bf16;
- :func:`measure_attention`: the SDPA kernels of the encoder and the decoder
  under :func:`~.sdpa.restricted_sdpa`;
- :func:`measure_training`: per-sentence, image-grouped and cached training
  iterations;
- :func:`run_gpu_check`: all of them (and :func:`~.ddp_compare.compare_ddp`
  with two or more GPUs) in one report of the stable layout :data:`SCHEMA`.

Torch, mmengine, segment_anything and open_clip are all this imports
(requirements/gpu_check.txt): the model is
:class:`~projects.risam.models.RISAMCore`.
"""
import tempfile
from typing import Dict, Optional, Sequence

import torch
from torch import nn

from .build import build_core, config_without_checkpoints, input_size
from .ddp_compare import compare_ddp
from .errors import GpuCheckError
from .report_schema import schema_errors
from .sdpa import FUSED_BACKENDS, sdpa_kernels
from .synthetic_batch import make_batch
from .timing import timed
from .training_step import adam, train_step

__all__ = ['SCHEMA', 'SCHEMA_VERSION', 'measure_attention', 'measure_encoder',
           'measure_training', 'run_gpu_check']

_STAT = dict(seconds_per_iter=float, peak_memory_bytes=int)
#: Stable JSON layout: key -> type, or a nested layout. ``ddp`` is None
#: with fewer than two GPUs.
SCHEMA: Dict[str, object] = dict(
    schema=int, device=str, torch=str, cuda=str,
    encoder=dict(arch=str, input_size=int, batch=int,
                 fp32=dict(images_per_s=float, peak_memory_bytes=int),
                 bf16=dict(images_per_s=float, peak_memory_bytes=int)),
    attention=dict(backends=list, encoder=dict, decoder=dict),
    train=dict(batch=int, per_sentence=_STAT, image_grouped=_STAT,
               cached=_STAT),
    ddp=(dict, type(None)),
)
SCHEMA_VERSION = 1


def measure_encoder(device: torch.device, *, arch='vit_h', size=1024,
                    batch=4, iters=3) -> dict:
    """Images/s and peak memory of the frozen SAM encoder (random, seed
    0), fp32 and bf16, on a ``batch x 3 x size x size`` input."""
    from projects.risam.models import SAMBackbone
    out = dict(arch=str(arch), input_size=size, batch=batch)
    x = torch.randn(batch, 3, size, size, device=device)
    for dtype in ('fp32', 'bf16'):
        torch.manual_seed(0)
        enc = SAMBackbone(arch=arch, feature_enhancement=None,
                          encoder_dtype=dtype).to(device)
        with torch.no_grad():
            stat = timed(lambda e=enc: e.encode(x), device, iters=iters)
        out[dtype] = dict(
            images_per_s=round(batch / stat['seconds_per_iter'], 3),
            peak_memory_bytes=stat['peak_memory_bytes'])
        del enc
    return out


def measure_attention(model: nn.Module, device: torch.device,
                      backends: Sequence[str] = FUSED_BACKENDS, *,
                      size: int = 1024) -> dict:
    """Encoder and decoder of ``model`` (inputs ``size`` square) under
    :func:`~.sdpa.restricted_sdpa`; ``{backends, encoder: {kernel: calls},
    decoder: {kernel: calls}}``."""
    inputs, samples = make_batch(1, 2, size, 17, device)
    with torch.no_grad():
        enc = sdpa_kernels(lambda: model.backbone.encode(inputs[:1]),
                           backends)
        visual = model.backbone.enhance(model.backbone.encode(inputs))
        text = model.extract_text([s.text for s in samples])
        dec = sdpa_kernels(lambda: model.decode(visual, text), backends)
    return dict(backends=list(backends), encoder=enc, decoder=dec)


def measure_training(model: nn.Module, device: torch.device, *,
                     size: int = 1024, batch=4, iters=3, words=17) -> dict:
    """Per-sentence (``batch`` images), image-grouped (``batch`` sentences
    of one image) and cached (frozen taps read from a feature cache)
    training iterations (inputs ``size`` square), each :func:`~.timing.timed`."""
    from projects.risam.image_encoding import FeatureCache, FeatureCacheWriter
    opt = adam(model)
    model.train()
    out = dict(batch=batch)
    per_sentence = make_batch(batch, batch, size, words, device)
    grouped = make_batch(1, batch, size, words, device, seed=1)
    model.share_image_encoding = False
    out['per_sentence'] = timed(
        lambda: train_step(model, opt, *per_sentence), device, iters=iters)
    model.share_image_encoding = True
    out['image_grouped'] = timed(
        lambda: train_step(model, opt, *grouped), device, iters=iters)
    with tempfile.TemporaryDirectory(prefix='risam_gpu_check_') as tmp:
        writer = FeatureCacheWriter(
            out_dir=tmp, fingerprint=model.backbone.fingerprint(),
            input_size=[size, size])
        inputs, samples = per_sentence
        with torch.no_grad():
            taps = model.backbone.encode(inputs)
        for i, ds in enumerate(samples):
            writer.add(str(ds.img_id), [t[i] for t in taps])
        writer.close()
        model.feature_cache = FeatureCache(tmp)
        try:
            out['cached'] = timed(
                lambda: train_step(model, opt, *per_sentence), device,
                iters=iters)
        finally:
            model.feature_cache = None
    return out


def run_gpu_check(config: str, *, iters: int = 3, encoder_batch: int = 4,
                  ddp_worker: Optional[Sequence[str]] = None) -> dict:
    """Every measurement on CUDA device 0 with ``config``'s model (random
    weights); the report (:data:`SCHEMA`). ``ddp_worker``: the command
    that runs one rank of the NCCL comparison (see
    :func:`~.ddp_compare.compare_ddp`).

    Raises:
        GpuCheckError: a check failed, the two-process step differs, or the
            report departs from :data:`SCHEMA`.
    """
    device = torch.device('cuda', 0)
    report = dict(schema=SCHEMA_VERSION,
                  device=torch.cuda.get_device_name(device),
                  torch=torch.__version__, cuda=str(torch.version.cuda))
    report['encoder'] = measure_encoder(device, batch=encoder_batch,
                                        iters=iters)
    model_cfg = config_without_checkpoints(config).model
    size = input_size(model_cfg)
    model = build_core(model_cfg, device)
    report['attention'] = measure_attention(model, device, size=size)
    report['train'] = measure_training(model, device, size=size, iters=iters)
    del model
    torch.cuda.empty_cache()
    report['ddp'] = None
    if torch.cuda.device_count() >= 2:
        report['ddp'] = compare_ddp(config, backend='nccl', batch=4,
                                    size=1024, worker=ddp_worker)
        if not report['ddp']['equal']:
            raise GpuCheckError(f'2-process NCCL step differs from the '
                                f'1-process step: {report["ddp"]}')
    errors = schema_errors(report, SCHEMA)
    if errors:
        raise GpuCheckError(f'report departs from the schema: {errors}')
    return report
