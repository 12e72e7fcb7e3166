"""The GPU check (``tools/analysis_tools/gpu_check.py``; docs/gpu_check.md):
what a config's training costs on this device, section by section.

:func:`run_gpu_check` runs :data:`SECTIONS` in order through
:func:`~.sections.run_sections` (one JSON line each, the report file
rewritten after each, a failing section recorded and the next one run):

- ``stack``: torch and torchvision (:mod:`.stack`), the device count;
- ``encoder``: :func:`measure_encoder`, the config's frozen image encoder;
- ``attention``: :func:`measure_attention` (fused kernels only, restricted)
  and the kernels an unrestricted training step runs
  (:func:`~.region_kernels.step_kernels`; CUDA only);
- ``train``: :func:`measure_training`, per-sentence, image-grouped and
  cached steps, and the forward pass that validation runs;
- ``syncs``: the step's host-device synchronisations
  (:func:`~.sync_count.count_syncs`; CUDA only);
- ``ddp``: :func:`~.ddp_compare.compare_ddp` (NCCL with two GPUs, gloo on
  the CPU; skipped with one GPU);
- ``projection``: :func:`~.projection.project`, the config's full run.

Torch, mmengine, segment_anything and open_clip are all this imports
(requirements/gpu_check.txt): the model is
:class:`~projects.risam.models.RISAMCore`.
"""
import tempfile
from typing import Callable, Dict, Optional, Sequence

import torch
from torch import nn

from . import projection
from .build import build_core, config_without_checkpoints, input_size
from .ddp_compare import compare_ddp
from .errors import GpuCheckError
from .region_kernels import step_kernels
from .sdpa import FUSED_BACKENDS, sdpa_kernels
from .sections import Section, SectionFailed, SectionSkipped, run_sections
from .stack import check_torchvision_cuda
from .sync_count import count_syncs
from .synthetic_batch import make_batch
from .timing import timed
from .training_step import adam, train_step

__all__ = ['LAYOUTS', 'SCHEMA', 'SCHEMA_VERSION', 'SECTIONS',
           'measure_attention', 'measure_encoder', 'measure_training',
           'run_gpu_check']

_STAT = dict(seconds_per_iter=float, peak_memory_bytes=int)
_OPT_STR = (str, type(None))
#: Each section's result layout (key -> type, or a nested layout).
LAYOUTS: Dict[str, Dict[str, object]] = dict(
    stack=dict(torch=str, torchvision=str, torch_cuda=_OPT_STR,
               torchvision_cuda=_OPT_STR, cuda_devices=int),
    encoder=dict(arch=str, input_size=int, batch=int,
                 fp32=dict(images_per_s=float, peak_memory_bytes=int),
                 bf16=dict(images_per_s=float, peak_memory_bytes=int)),
    attention=dict(backends=list, encoder=dict, decoder=dict,
                   training_step=(dict, str)),
    train=dict(batch=int, per_sentence=_STAT, image_grouped=_STAT,
               cached=_STAT, forward=_STAT),
    syncs=dict(count=int, by_origin=dict, allowance=dict,
               over_allowance=list),
    ddp=dict(backend=str, world=int, steps=int, sync_bn=_OPT_STR,
             tolerance=float, losses=list, reference_losses=list,
             max_diff_between_ranks=float, max_diff_to_reference=float,
             equal=bool),
    projection=projection.layout(),
)
#: The sections, in the order they run.
SECTIONS = tuple(LAYOUTS)
_ENTRY = dict(status=str, seconds=float, budget_s=float, note=_OPT_STR,
              error=_OPT_STR, result=(dict, type(None)))
#: Stable JSON layout of the report: the header and one entry per section
#: (its ``result`` follows :data:`LAYOUTS` when the section is ok).
SCHEMA: Dict[str, object] = dict(
    schema=int, device=str, torch=str, cuda=str, config=str,
    **{name: _ENTRY for name in SECTIONS})
SCHEMA_VERSION = 2
#: Seconds each section may take (the whole check: 4 min on one H100).
BUDGETS = dict(stack=30, encoder=120, attention=90, train=240, syncs=60,
               ddp=320, projection=10)
NOT_ON_CUDA = 'not on CUDA'


def measure_encoder(backbone_cfg, device: torch.device, *, size: int,
                    batch=4, iters=3) -> dict:
    """Images/s and peak memory of the config's frozen image encoder
    (``backbone_cfg``, random, seed 0), fp32 and bf16, on a ``batch x 3 x
    size x size`` input."""
    from projects.risam.models import SAMBackbone
    kwargs = {k: v for k, v in dict(backbone_cfg).items() if k != 'type'}
    kwargs.update(checkpoint=None, feature_enhancement=None)
    out = dict(arch=str(kwargs.get('arch')), input_size=size, batch=batch)
    x = torch.randn(batch, 3, size, size, device=device)
    for dtype in ('fp32', 'bf16'):
        torch.manual_seed(0)
        enc = SAMBackbone(**dict(kwargs, encoder_dtype=dtype)).to(device)
        with torch.no_grad():
            stat = timed(lambda e=enc: e.encode(x), device, iters=iters)
        out[dtype] = dict(
            images_per_s=round(batch / stat['seconds_per_iter'], 3),
            peak_memory_bytes=stat['peak_memory_bytes'])
        del enc
    return out


def measure_attention(model: nn.Module, device: torch.device,
                      backends: Sequence[str] = FUSED_BACKENDS, *,
                      size: int = 1024, words: int = 17) -> dict:
    """Encoder and decoder of ``model`` (inputs ``size`` square) under
    :func:`~.sdpa.restricted_sdpa`; ``{backends, encoder: {kernel: calls},
    decoder: {kernel: calls}}``."""
    inputs, samples = make_batch(1, 2, size, words, device)
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
    training iterations, and the no-grad forward of the per-sentence batch
    (what validation runs), inputs ``size`` square, each
    :func:`~.timing.timed`."""
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
    model.eval()
    with torch.no_grad():
        out['forward'] = timed(
            lambda: model(*per_sentence, mode='tensor'), device, iters=iters)
    model.train()
    return out


def _card(device: torch.device) -> Optional[dict]:
    if device.type != 'cuda':
        return None
    props = torch.cuda.get_device_properties(device)
    return dict(name=props.name, total_memory_bytes=int(props.total_memory))


def run_gpu_check(config: str, device: torch.device, *, iters: int = 3,
                  batch: Optional[int] = None, encoder_batch: int = 4,
                  words: int = 17, ddp_worker: Optional[Sequence[str]] = None,
                  ddp_timeout: float = 300,
                  emit: Callable[[str], None] = print,
                  write: Optional[Callable[[str], None]] = None,
                  only: Optional[Sequence[str]] = None) -> dict:
    """Every section of :data:`SECTIONS` (``only``: those named) on
    ``device`` with ``config``'s model (random weights); the report
    (:data:`SCHEMA`).

    Args:
        batch: sentences per training step (default: the config's
            ``train_dataloader.batch_size``, per GPU).
        ddp_worker: the command that runs one rank of
            :func:`~.ddp_compare.compare_ddp`.
        emit, write: get each section's JSON line, and the whole report
            after each section (:func:`~.sections.run_sections`).
    """
    device = torch.device(device)
    cuda = device.type == 'cuda'
    cfg = config_without_checkpoints(config)
    size = input_size(cfg.model)
    batch = int(batch or cfg.train_dataloader.batch_size)
    state: Dict[str, nn.Module] = {}

    def model() -> nn.Module:
        if 'model' not in state:
            state['model'] = build_core(cfg.model, device)
        return state['model']

    def stack(report: dict) -> dict:
        import torchvision
        return dict(check_torchvision_cuda(torch, torchvision),
                    cuda_devices=torch.cuda.device_count())

    def encoder(report: dict) -> dict:
        return measure_encoder(cfg.model.backbone, device, size=size,
                               batch=encoder_batch, iters=iters)

    def attention(report: dict) -> dict:
        out = measure_attention(model(), device, FUSED_BACKENDS if cuda
                                else ('FLASH_ATTENTION', ), size=size,
                                words=words)
        out['training_step'] = NOT_ON_CUDA
        if cuda:
            step = make_batch(batch, batch, size, words, device)
            opt = adam(model())
            out['training_step'] = step_kernels(
                lambda: train_step(model(), opt, *step), model())
        return out

    def train(report: dict) -> dict:
        return measure_training(model(), device, size=size, batch=batch,
                                iters=iters, words=words)

    def syncs(report: dict) -> dict:
        if not cuda:
            raise SectionSkipped(NOT_ON_CUDA)
        step = make_batch(batch, batch, size, words, device)
        opt = adam(model())
        train_step(model(), opt, *step)  # first-step allocations
        out = count_syncs(lambda: train_step(model(), opt, *step), device)
        if out['over_allowance']:
            raise SectionFailed(
                f'{out["count"]} synchronisations, over the allowance: '
                + '; '.join(out['over_allowance']), out)
        return out

    def ddp(report: dict) -> dict:
        state.clear()
        if cuda:
            torch.cuda.empty_cache()
            if torch.cuda.device_count() < 2:
                raise SectionSkipped('one GPU: the 2-process NCCL run needs '
                                     'two')
        out = compare_ddp(config, backend='nccl' if cuda else 'gloo',
                          batch=batch, size=size, worker=ddp_worker,
                          timeout=ddp_timeout)
        if not out['equal']:
            raise SectionFailed(
                f'weights differ by {out["max_diff_between_ranks"]:.3g} '
                f'between ranks, {out["max_diff_to_reference"]:.3g} from '
                f'the one-process reference (tolerance {out["tolerance"]})',
                out)
        return out

    def project(report: dict) -> dict:
        train_entry = report.get('train') or {}
        if train_entry.get('result') is None:
            raise GpuCheckError('nothing to project: the train section '
                                'measured nothing')
        return projection.project(cfg, train_entry['result'], _card(device))

    runs = dict(stack=stack, encoder=encoder, attention=attention,
                train=train, syncs=syncs, ddp=ddp, projection=project)
    sections = [Section(name, BUDGETS[name], runs[name], LAYOUTS[name])
                for name in SECTIONS if only is None or name in only]
    header = dict(schema=SCHEMA_VERSION,
                  device=(torch.cuda.get_device_name(device) if cuda
                          else 'cpu'),
                  torch=torch.__version__, cuda=str(torch.version.cuda),
                  config=str(config))
    return run_sections(sections, header, emit=emit, write=write)
