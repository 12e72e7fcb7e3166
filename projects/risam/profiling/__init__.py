"""Profiling helpers: models with random weights, synthetic data, timing
loops, SDPA kernel checks, report layouts, and the two measuring runs built
from them (the GPU check and the dry run).

The modules imported here need torch, mmengine, segment_anything and
open_clip only (what ``requirements/gpu_check.txt`` installs on a bare GPU
machine; each imports mmengine or the encoders' packages where it uses
them). The dry run's modules (:mod:`.dry_run`, :mod:`.refer_data`) and
:class:`~projects.risam.utils.stage_timer.StageTimer` need mmengine's runner,
OpenCV and pycocotools: their names below are imported on first use.

- :mod:`.build`: models from a config, random weights (core or ``RISAM``).
- :mod:`.random_weights`: official-format files for missing encoder weights.
- :mod:`.synthetic_batch`: seeded inputs and data samples.
- :mod:`.refer_data`: a COCO-sized refer dataset on disk.
- :mod:`.timing`: timed and interleaved loops, synchronised on CUDA.
- :mod:`.training_step`: losses, backward and Adam outside the runner.
- :mod:`.sdpa`: restricting and naming the SDPA kernels.
- :mod:`.region_kernels`: the SDPA kernels of an unrestricted training step,
  in the encoder and in the decoder.
- :mod:`.sync_count`: a step's host-device synchronisations against an
  allowance (CUDA).
- :mod:`.report_schema`: checking a report's keys and types.
- :mod:`.sections`: ordered sections with time budgets that report as they
  go and survive each other's failures.
- :mod:`.stack`: torch and torchvision, built for one CUDA.
- :mod:`.projection`: a config's full run (memory fraction, hours, GPUs)
  from measured steps.
- :mod:`.ddp_compare`: two ranks on their own data against a one-process
  reference.
- :mod:`.benchmark_images`, :mod:`.throughput`: a trained model's images and
  sentences per second on its config's test images (the user benchmark).
- :mod:`.ratios`: the regression ratios of the optimised paths (a package).
- :mod:`.gpu_check`, :mod:`.dry_run`: the two runs (the GPU check's
  sections: ``stack``, ``encoder``, ``attention``, ``train``, ``syncs``,
  ``ddp``, ``projection``; it runs whole on the CPU too).
"""
import importlib

from projects.risam.utils.peak_memory import (
    MeasurementError,
    peak_rss_bytes,
    reset_peak_rss,
    status_mb,
)

from .build import (
    build_core,
    build_risam,
    config_without_checkpoints,
    input_size,
    sam_encoder,
    with_sam_arch,
)
from .errors import GpuCheckError
from .random_weights import missing_frozen_weights, use_random_weights, write_random_weights
from .report_schema import schema_errors
from .sdpa import FUSED_BACKENDS, SDPA_OPS, restricted_sdpa, sdpa_kernels
from .synthetic_batch import box_masks, data_samples, make_batch, sentence
from .timing import interleaved, synchronize, timed
from .training_step import adam, total_loss, train_step

#: Names imported on first use (module, attribute): they need the full stack.
_LAZY = dict(
    StageTimer=('projects.risam.utils.stage_timer', 'StageTimer'),
    COCO_SIZES=('.refer_data', 'COCO_SIZES'),
    write_coco_sized_refer=('.refer_data', 'write_coco_sized_refer'),
    STAGES=('.dry_run', 'STAGES'),
    dry_run=('.dry_run', 'dry_run'),
    param_counts=('.dry_run', 'param_counts'),
    compare_ddp=('.ddp_compare', 'compare_ddp'),
    run_gpu_check=('.gpu_check', 'run_gpu_check'),
    benchmark_model=('.throughput', 'benchmark_model'),
    load_benchmark_images=('.benchmark_images', 'load_benchmark_images'),
)

__all__ = [
    'COCO_SIZES', 'FUSED_BACKENDS', 'SDPA_OPS', 'STAGES', 'GpuCheckError', 'MeasurementError',
    'StageTimer', 'adam', 'benchmark_model', 'box_masks', 'build_core', 'build_risam',
    'compare_ddp', 'config_without_checkpoints', 'data_samples', 'dry_run', 'input_size',
    'interleaved', 'load_benchmark_images', 'make_batch', 'missing_frozen_weights', 'param_counts',
    'peak_rss_bytes', 'reset_peak_rss', 'restricted_sdpa', 'run_gpu_check', 'sam_encoder',
    'schema_errors', 'sdpa_kernels', 'sentence', 'status_mb', 'synchronize', 'timed', 'total_loss',
    'train_step', 'use_random_weights', 'with_sam_arch', 'write_coco_sized_refer',
    'write_random_weights'
]


def __getattr__(name: str):
    """Import a :data:`_LAZY` name on first use (PEP 562)."""
    if name not in _LAZY:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    module, attr = _LAZY[name]
    value = getattr(importlib.import_module(module, __name__), attr)
    globals()[name] = value
    return value
