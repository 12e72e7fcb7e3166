"""One-command GPU check: what the paper config costs on this GPU.

    python tools/analysis_tools/gpu_check.py [--json OUT [--overwrite]]
        [--iters 3] [--encoder-batch 4] [--debug]

Run it on a machine with a CUDA GPU (docs/gpu_check.md: packing the wheels,
carrying them, installing offline). It first imports what it needs and stops
in one line (exit 1) naming a missing package. Without CUDA it says so in one
line and exits 2. With CUDA it measures, with random weights of the paper
config's architecture (nothing is downloaded):

- ``encoder``: SAM ViT-H at 1024, images/s and peak memory, fp32 and bf16;
- ``attention``: the encoder and the decoder run under
  ``torch.nn.attention.sdpa_kernel`` restricted to the efficient and flash
  backends, so a fall back to the math kernel is an error; the profiler
  names the SDPA kernels that ran;
- ``train``: the paper config's training iteration at batch 4 (Adam,
  focal + dice), time and peak memory, for per-sentence batches (4 images),
  image-grouped batches (4 sentences of one image: one encoder pass) and
  batches read from a frozen-feature cache;
- ``ddp``: with two or more GPUs, a 2-process NCCL step whose loss and
  updated weights equal the 1-process step on the same data.

The JSON keys are stable (:data:`SCHEMA`), so two runs can be compared key
by key.
"""
import argparse
import importlib
import json
import os
import sys
import tempfile
import time
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, List, Optional, Sequence

import torch

PAPER_CONFIG = 'configs/risam/risam_sam-vit-h_8xb4-50e_refcoco-1024x1024.py'
#: Imported before anything runs; the first that fails is named. The
#: check trains the model core (``RISAMCore``), so it needs neither
#: mmsegmentation nor mmcv (nor OpenCV or SciPy): where mmseg is not
#: installed, ``projects.risam`` registers the core only.
STACK = ('numpy', 'mmengine', 'segment_anything', 'open_clip',
         'projects.risam')
#: SDPA back ends allowed while proving the kernel (no MATH).
FUSED_BACKENDS = ('EFFICIENT_ATTENTION', 'FLASH_ATTENTION')
#: The profiler's name of each SDPA kernel.
SDPA_OPS = {
    'aten::_scaled_dot_product_flash_attention': 'flash',
    'aten::_scaled_dot_product_flash_attention_for_cpu': 'flash',
    'aten::_scaled_dot_product_efficient_attention': 'efficient',
    'aten::_scaled_dot_product_cudnn_attention': 'cudnn',
    'aten::_scaled_dot_product_attention_math': 'math',
}
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


class GpuCheckError(RuntimeError):
    """A check that failed, in one line."""


def check_stack(modules: Sequence[str] = STACK) -> None:
    """Import every module the check needs; name the first that fails."""
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as e:  # ImportError, or mmcv without its ops
            raise GpuCheckError(
                f'{name} cannot be imported ({type(e).__name__}: '
                f'{str(e).splitlines()[0] if str(e) else ""}); install the '
                'wheel pack first (docs/gpu_check.md)') from e


def schema_errors(report: dict, schema: Optional[dict] = None,
                  path: str = '') -> List[str]:
    """Where ``report`` departs from :data:`SCHEMA` (missing or extra keys,
    wrong types); empty when it conforms."""
    schema = SCHEMA if schema is None else schema
    errors = [f'{path}{k}: missing' for k in schema if k not in report]
    errors += [f'{path}{k}: not in the schema' for k in report
               if k not in schema]
    for key, want in schema.items():
        if key not in report:
            continue
        value = report[key]
        if isinstance(want, dict):
            if not isinstance(value, dict):
                errors.append(f'{path}{key}: not an object')
            else:
                errors += schema_errors(value, want, f'{path}{key}.')
        elif isinstance(value, bool) or not isinstance(value, want):
            if not (want is float and isinstance(value, int)
                    and not isinstance(value, bool)):
                errors.append(f'{path}{key}: {type(value).__name__}')
    return errors


# -- timing ------------------------------------------------------------------
def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device, *, iters: int,
          warmup: int = 1) -> Dict[str, float]:
    """Mean seconds of ``fn()`` over ``iters`` calls after ``warmup``, and
    the peak memory on ``device`` (CUDA) during the timed calls."""
    for _ in range(warmup):
        fn()
    _sync(device)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    for _ in range(iters):
        fn()
    _sync(device)
    seconds = (time.perf_counter() - t0) / iters
    peak = (torch.cuda.max_memory_allocated(device)
            if device.type == 'cuda' else 0)
    return dict(seconds_per_iter=round(seconds, 5), peak_memory_bytes=peak)


# -- attention kernels -----------------------------------------------------
@contextmanager
def restricted_sdpa(backends: Sequence[str]) -> Iterator[None]:
    """Only ``backends`` (names of ``torch.nn.attention.SDPBackend``) may
    run ``F.scaled_dot_product_attention``; a call none of them can serve
    raises :class:`GpuCheckError` instead of falling back."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    chosen = [getattr(SDPBackend, b) for b in backends]
    try:
        with sdpa_kernel(chosen):
            yield
    except RuntimeError as e:
        if any(m in str(e) for m in ('No available kernel',
                                     'No viable backend')):
            raise GpuCheckError(
                f'no {"/".join(backends)} SDPA kernel for this call: it '
                'would fall back to the math kernel') from e
        raise


def sdpa_kernels(fn: Callable[[], object], backends: Sequence[str]
                 ) -> Dict[str, int]:
    """Run ``fn`` under :func:`restricted_sdpa` and the profiler; return
    ``{kernel: calls}`` (flash, efficient, cudnn, math) of the SDPA calls."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        with restricted_sdpa(backends):
            fn()
    counts: Dict[str, int] = {}
    for event in prof.key_averages():
        kind = SDPA_OPS.get(event.key)
        if kind is not None:
            counts[kind] = counts.get(kind, 0) + event.count
    if not counts:
        raise GpuCheckError('no scaled_dot_product_attention call ran')
    if counts.get('math'):
        raise GpuCheckError(f'the math SDPA kernel ran: {counts}')
    return counts


# -- the paper model ---------------------------------------------------------
def paper_model_cfg(config: str = PAPER_CONFIG, **changes):
    """The config's model with random weights (no checkpoint files)."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    cfg.model.backbone.checkpoint = None
    cfg.model.text_encoder.pretrained = None
    cfg.model.update(changes)
    return cfg


def build_model(model_cfg, device: torch.device, seed: int = 0):
    """``model_cfg`` (a ``risam.RISAM`` config) as a
    :class:`~projects.risam.models.RISAMCore`: RISAM's stages, loss and
    ``forward``, which RISAM inherits unchanged, without mmseg's
    ``BaseSegmentor`` and data preprocessor (the check feeds normalised
    inputs, as the preprocessor hands them to the model)."""
    from projects.risam.models import RISAMCore
    kwargs = {k: v for k, v in dict(model_cfg).items()
              if k not in ('type', 'data_preprocessor')}
    torch.manual_seed(seed)
    return RISAMCore(**kwargs).to(device)


def input_size(model_cfg) -> int:
    """The side of the config's square input (its data preprocessor's
    ``size``; SAM's 1024 when it has none)."""
    size = (model_cfg.get('data_preprocessor') or {}).get('size')
    return int(size[0]) if size else 1024


def make_batch(n_images: int, n_sentences: int, size: int, words: int,
               device: torch.device, seed: int = 0):
    """``n_sentences`` samples over ``n_images`` images (sentence i shows
    image ``i * n_images // n_sentences``): normalised inputs
    ``B x 3 x S x S``, data samples with text and a random target mask."""
    from mmengine.structures import BaseDataElement, PixelData
    gen = torch.Generator().manual_seed(seed)
    images = torch.randn(n_images, 3, size, size, generator=gen)
    which = [i * n_images // n_sentences for i in range(n_sentences)]
    inputs = images[which].to(device)
    samples = []
    for i, img in enumerate(which):
        text = ' '.join(['the'] + [f'word{(i + j) % 7}' for j in
                                   range(words - 1)])
        ds = BaseDataElement(metainfo=dict(
            img_id=img, img_path=f'image_{img}.jpg', text=text,
            ori_shape=(size, size), img_shape=(size, size),
            pad_shape=(size, size), batch_input_shape=(size, size)))
        gt = (torch.rand(1, size, size, generator=gen) > 0.5).long()
        ds.gt_sem_seg = PixelData(data=gt.to(device))
        samples.append(ds)
    return inputs, samples


def train_step(model, optimizer, inputs, samples) -> float:
    """One step: losses (Eq. 12), backward, Adam; returns the loss."""
    losses = model.loss(inputs, samples)
    loss = sum(v for k, v in losses.items() if 'loss' in k)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def adam(model, lr: float = 1e-4) -> torch.optim.Optimizer:
    return torch.optim.Adam([p for p in model.parameters()
                             if p.requires_grad], lr=lr)


def measure_encoder(device: torch.device, *, arch='vit_h', size=1024,
                    batch=4, iters=3) -> dict:
    """Images/s and peak memory of the frozen SAM encoder, fp32 and bf16."""
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


def measure_attention(model, device: torch.device,
                      backends: Sequence[str] = FUSED_BACKENDS, *,
                      size: int = 1024) -> dict:
    """Encoder and decoder of ``model`` (inputs ``size`` square) under
    :func:`restricted_sdpa`; ``{backends, encoder: {kernel: calls},
    decoder: {kernel: calls}}``."""
    inputs, samples = make_batch(1, 2, size, 17, device)
    with torch.no_grad():
        enc = sdpa_kernels(lambda: model.backbone.encode(inputs[:1]),
                           backends)
        visual = model.backbone.enhance(model.backbone.encode(inputs))
        text = model.extract_text([s.text for s in samples])
        dec = sdpa_kernels(lambda: model.decode(visual, text), backends)
    return dict(backends=list(backends), encoder=enc, decoder=dec)


def measure_training(model, device: torch.device, *, size: int = 1024,
                     batch=4, iters=3, words=17) -> dict:
    """Per-sentence, image-grouped and cached training iterations (inputs
    ``size`` square)."""
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


# -- two processes -----------------------------------------------------------
def ddp_worker(spec: dict) -> None:
    """One rank of :func:`compare_ddp` (run as ``gpu_check.py --ddp-worker
    SPEC.json``): the 1-process batch on every rank, one DDP step, then the
    loss again; rank 0 writes the result to ``spec['out']``."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP
    rank, world, backend = spec['rank'], spec['world'], spec['backend']
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(spec['port']))
    dist.init_process_group(backend, rank=rank, world_size=world)
    try:
        device = (torch.device('cuda', rank) if backend == 'nccl' else
                  torch.device('cpu'))
        if device.type == 'cuda':
            torch.cuda.set_device(device)
        model = build_model(paper_model_cfg(spec['config']).model, device)
        ddp = DDP(model, device_ids=[rank] if device.type == 'cuda' else None)
        result = _two_steps(model, adam(model), device, spec['batch'],
                            spec['size'], forward=ddp)
        if rank == 0:
            with open(spec['out'], 'w') as f:
                json.dump(result, f)
    finally:
        dist.destroy_process_group()


def _two_steps(model, opt, device, batch, size, forward=None) -> dict:
    """Loss of step 1, Adam step, loss of step 2 (before its update) and
    the sum of the trainable weights after step 1."""
    model.train()
    inputs, samples = make_batch(batch, batch, size, 17, device)
    run = forward if forward is not None else model

    def loss() -> torch.Tensor:
        losses = run(inputs, samples, mode='loss')
        return sum(v for k, v in losses.items() if 'loss' in k)

    first = loss()
    opt.zero_grad(set_to_none=True)
    first.backward()
    opt.step()
    checksum = sum(float(p.detach().double().sum())
                   for p in model.parameters() if p.requires_grad)
    with torch.no_grad():
        second = loss()
    return dict(loss_step1=float(first), loss_step2=float(second),
                weight_sum=checksum)


def compare_ddp(config: str, *, backend: str, batch: int, size: int,
                world: int = 2, port: int = 29533,
                timeout: float = 1200) -> dict:
    """A ``world``-process step (every rank gets the 1-process batch, so
    the all-reduced gradient equals the 1-process one) against the 1-process
    step, on ``config``'s model: ``{one_process, two_process, equal}`` with
    the losses and the weight sum. The ranks are fresh processes of this
    script (``--ddp-worker``)."""
    import subprocess
    device = torch.device('cuda', 0) if backend == 'nccl' else torch.device(
        'cpu')
    model = build_model(paper_model_cfg(config).model, device)
    single = _two_steps(model, adam(model), device, batch, size)
    del model
    with tempfile.TemporaryDirectory(prefix='risam_gpu_check_') as tmp:
        out = os.path.join(tmp, 'rank0.json')
        procs = []
        for rank in range(world):
            spec = os.path.join(tmp, f'spec{rank}.json')
            with open(spec, 'w') as f:
                json.dump(dict(rank=rank, world=world, port=port,
                               backend=backend, config=config, batch=batch,
                               size=size, out=out), f)
            procs.append(subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), '--ddp-worker',
                 spec]))
        codes = [p.wait(timeout=timeout) for p in procs]
        if any(codes) or not os.path.exists(out):
            raise GpuCheckError(f'{backend} ranks exited with {codes}')
        with open(out) as f:
            multi = json.load(f)
    equal = all(abs(single[k] - multi[k]) <= 1e-5 * max(1., abs(single[k]))
                for k in single)
    return dict(backend=backend, world=world, one_process=single,
                two_process=multi, equal=equal)


# -- the tool ----------------------------------------------------------------
def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--json', help='write the figures here')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing --json file')
    parser.add_argument('--iters', type=int, default=3,
                        help='timed iterations of each measurement')
    parser.add_argument('--encoder-batch', type=int, default=4)
    parser.add_argument('--debug', action='store_true',
                        help='show the full traceback of an error')
    parser.add_argument('--ddp-worker', metavar='SPEC.json',
                        help=argparse.SUPPRESS)  # one rank of compare_ddp
    return parser.parse_args(argv)


def run_check(args: argparse.Namespace) -> dict:
    device = torch.device('cuda', 0)
    report = dict(schema=SCHEMA_VERSION,
                  device=torch.cuda.get_device_name(device),
                  torch=torch.__version__, cuda=str(torch.version.cuda))
    report['encoder'] = measure_encoder(device, batch=args.encoder_batch,
                                        iters=args.iters)
    model_cfg = paper_model_cfg().model
    size = input_size(model_cfg)
    model = build_model(model_cfg, device)
    report['attention'] = measure_attention(model, device, size=size)
    report['train'] = measure_training(model, device, size=size,
                                       iters=args.iters)
    del model
    torch.cuda.empty_cache()
    report['ddp'] = None
    if torch.cuda.device_count() >= 2:
        report['ddp'] = compare_ddp(PAPER_CONFIG, backend='nccl', batch=4,
                                    size=1024)
        if not report['ddp']['equal']:
            raise GpuCheckError(f'2-process NCCL step differs from the '
                                f'1-process step: {report["ddp"]}')
    errors = schema_errors(report)
    if errors:
        raise GpuCheckError(f'report departs from the schema: {errors}')
    return report


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    prog = 'gpu_check.py'
    if args.ddp_worker:
        with open(args.ddp_worker) as f:
            ddp_worker(json.load(f))
        return 0
    try:
        check_stack()
        from projects.risam.utils.output import check_output_file, write_text
        if args.json:
            args.json = check_output_file(args.json, args.overwrite)
        if not torch.cuda.is_available():
            print(f'{prog}: no CUDA device (torch {torch.__version__}, '
                  f'CUDA {torch.version.cuda}); nothing measured',
                  file=sys.stderr)
            return 2
        report = run_check(args)
    except (GpuCheckError, OSError) as e:
        if args.debug:
            raise
        print(f'{prog}: error: {e}', file=sys.stderr)
        return 1
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        write_text(args.json, text + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
