"""One-command GPU check: what a config's training costs on this device.

    python tools/analysis_tools/gpu_check.py [--config CONFIG]
        [--device cuda|cpu] [--json OUT [--overwrite]] [--iters 3]
        [--batch N] [--encoder-batch 4] [--debug]

Run it on a machine with a CUDA GPU (docs/gpu_check.md: packing the wheels,
carrying them, installing offline). It first imports what it needs and stops
in one line (exit 1) naming a missing package, or a torchvision built for
another CUDA than torch. Without CUDA (and without ``--device cpu``) it says
so in one line and exits 2. Then, with random weights of the config's
architecture (default: the paper config; nothing is downloaded), it runs
the sections ``stack``, ``encoder``, ``attention``, ``train``, ``syncs``,
``ddp`` and ``projection`` in order
(:mod:`projects.risam.profiling.gpu_check`). Each prints one JSON line when
it ends (stdout holds these lines only; logs go to stderr) and ``--json``
is rewritten after each; a failing section records its one-line error and
the next runs. The last line says in plain words
whether the config fits on this card and how long its run would take.
Exit status: 0 all sections ok or skipped, 1 a section failed.

``--device cpu`` runs every section on the CPU (gloo for ``ddp``; ``syncs``
and the training step's kernels record "not on CUDA"). The tool's own
imports are the standard library and torch, so a missing package is named
before anything else is imported.
"""
import argparse
import contextlib
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
STACK = ('numpy', 'torchvision', 'mmengine', 'segment_anything', 'open_clip',
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
    parser.add_argument('--config', default=PAPER_CONFIG,
                        help='the config to measure (default: the paper\'s)')
    parser.add_argument('--device', choices=('cuda', 'cpu'), default='cuda',
                        help='cpu: every section on the CPU (gloo for ddp)')
    parser.add_argument('--json', help='write the report here')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing --json file')
    parser.add_argument('--iters', type=int, default=3,
                        help='timed iterations of each measurement')
    parser.add_argument('--batch', type=int,
                        help="sentences per training step (default: the "
                        "config's batch per GPU)")
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
    import torchvision

    from projects.risam.profiling.gpu_check import run_gpu_check
    from projects.risam.profiling.stack import check_torchvision_cuda
    from projects.risam.utils.output import check_output_file, write_text
    check_torchvision_cuda(torch, torchvision)
    if args.json:
        args.json = check_output_file(args.json, args.overwrite)
    if args.device == 'cuda' and not torch.cuda.is_available():
        print(f'{PROG}: no CUDA device (torch {torch.__version__}, '
              f'CUDA {torch.version.cuda}); nothing measured (--device cpu '
              'runs the check on the CPU)', file=sys.stderr)
        return None
    # NCCL ranks of the ddp section are processes of this script (gloo
    # ranks are forked)
    worker = ([sys.executable, os.path.abspath(__file__), '--ddp-worker']
              if args.device == 'cuda' else None)
    write = (lambda text: write_text(args.json, text)) if args.json else None
    out = sys.stdout  # the report's lines only: logs and prints go to stderr
    with contextlib.redirect_stdout(sys.stderr):
        report = run_gpu_check(
            args.config, torch.device(args.device, 0)
            if args.device == 'cuda' else torch.device('cpu'),
            iters=args.iters, batch=args.batch,
            encoder_batch=args.encoder_batch, ddp_worker=worker,
            emit=lambda line: print(line, file=out, flush=True), write=write)
    projection = report.get('projection') or {}
    if projection.get('result'):
        print(projection['result']['summary'], file=out, flush=True)
    return report


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
    try:
        report = measure(args)
    except (GpuCheckError, OSError) as e:
        return _fail(e, args.debug)
    if report is None:
        return 2
    failed = [k for k, v in report.items()
              if isinstance(v, dict) and v.get('status') == 'failed']
    if failed:
        print(f'{PROG}: failed sections: {", ".join(failed)}',
              file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
