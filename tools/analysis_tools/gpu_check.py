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

The JSON keys are stable (``projects.risam.profiling.gpu_check.SCHEMA``), so
two runs can be compared key by key. The measurements live in
:mod:`projects.risam.profiling.gpu_check`; this file parses, checks the
stack and prints. Its own imports are the standard library and torch, so a
missing package is named before anything else is imported.
"""
import argparse
import importlib
import json
import os
import sys
from typing import List, Optional, Sequence

import torch

PAPER_CONFIG = 'configs/risam/risam_sam-vit-h_8xb4-50e_refcoco-1024x1024.py'
#: Imported before anything runs; the first that fails is named. The
#: check trains the model core (``RISAMCore``), so it needs neither
#: mmsegmentation nor mmcv (nor OpenCV or SciPy): where mmseg is not
#: installed, ``projects.risam`` registers the core only. The last entry
#: is where the measurements live (an older install has no such module).
STACK = ('numpy', 'mmengine', 'segment_anything', 'open_clip',
         'projects.risam', 'projects.risam.profiling.gpu_check')
PROG = 'gpu_check.py'


class MissingPackage(ImportError):
    """A package the check needs cannot be imported, in one line."""


def check_stack(modules: Optional[Sequence[str]] = None) -> None:
    """Import every module the check needs (default :data:`STACK`); name
    the first that fails."""
    for name in STACK if modules is None else modules:
        try:
            importlib.import_module(name)
        except Exception as e:  # ImportError, or mmcv without its ops
            raise MissingPackage(
                f'{name} cannot be imported ({type(e).__name__}: '
                f'{str(e).splitlines()[0] if str(e) else ""}); install the '
                'wheel pack first (docs/gpu_check.md)') from e


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
                        help=argparse.SUPPRESS)  # one rank of the ddp check
    return parser.parse_args(argv)


def _fail(error: Exception, debug: bool) -> int:
    """One line on stderr and exit status 1 (``--debug``: the traceback)."""
    if debug:
        raise error
    print(f'{PROG}: error: {error}', file=sys.stderr)
    return 1


def measure(args: argparse.Namespace) -> Optional[dict]:
    """The report, or None (said in one line) without a CUDA device."""
    from projects.risam.profiling.gpu_check import run_gpu_check
    from projects.risam.utils.output import check_output_file
    if args.json:
        args.json = check_output_file(args.json, args.overwrite)
    if not torch.cuda.is_available():
        print(f'{PROG}: no CUDA device (torch {torch.__version__}, '
              f'CUDA {torch.version.cuda}); nothing measured',
              file=sys.stderr)
        return None
    # the ranks of the 2-GPU comparison are processes of this script
    worker = [sys.executable, os.path.abspath(__file__), '--ddp-worker']
    return run_gpu_check(PAPER_CONFIG, iters=args.iters,
                         encoder_batch=args.encoder_batch, ddp_worker=worker)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if args.ddp_worker:
        from projects.risam.profiling.ddp_compare import ddp_worker
        with open(args.ddp_worker) as f:
            ddp_worker(json.load(f))
        return 0
    try:
        check_stack()
    except MissingPackage as e:
        return _fail(e, args.debug)
    from projects.risam.profiling import GpuCheckError
    from projects.risam.utils.output import write_text
    try:
        report = measure(args)
    except (GpuCheckError, OSError) as e:
        return _fail(e, args.debug)
    if report is None:
        return 2
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        write_text(args.json, text + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
