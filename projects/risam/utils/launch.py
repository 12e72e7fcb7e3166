"""Start a run: CUDA for a distributed launcher, CPU only when asked for.

Rules (``tools/train.py`` and ``tools/test.py``, ``--launcher`` and
``--device``):

- ``--launcher none``: one process on whatever device mmengine picks (a GPU if
  there is one, else the CPU), as before. ``--device cpu`` hides the GPUs.
- ``--launcher pytorch|slurm|mpi`` needs a usable CUDA device for every local
  rank. Without one the run stops with one line (:class:`LaunchError`)
  naming the torch build (``torch.__version__``, ``torch.version.cuda``) and
  ``torch.cuda.is_available()``: a CUDA build of torch on a machine with too
  old a driver must not train ViT-H on CPU processes without saying so.
- ``--launcher pytorch --device cpu``: CPU processes talking over gloo.
  mmengine 0.10.7 assumes CUDA there (``init_dist`` calls
  ``torch.cuda.set_device``, ``wrap_model`` passes
  ``device_ids=[LOCAL_RANK]``), so the gloo group is created here and DDP
  gets ``device_ids=None``.

For every launcher the process group is created here, before the runner:
rank 0 can then choose the checkpoint to resume and broadcast it
(:mod:`.resume`), and the evaluators collect their results over the process
group on NCCL (``collect_device='gpu'``) and through a folder on disk only on
gloo (``collect_device='cpu'``), which needs a folder every rank shares;
``cfg.sync_bn`` is kept on NCCL and dropped with a log line on gloo
(:func:`.sync_bn.resolve_sync_bn`).

``tools/dist_train.sh`` and ``tools/dist_test.sh`` run this file as a script
before torchrun (``python launch.py --nproc N [tool options]``), so that a
run that cannot start ends in one line, not one line per process followed by
torchrun's failure report.
"""
import argparse
import os
import sys
from typing import Any, Iterator, List, Optional

import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp
from mmengine.config import Config
from mmengine.dist import init_dist

__all__ = [
    'DEVICE_HELP',
    'LaunchError',
    'check_amp',
    'configure_launcher',
    'cuda_launch_error',
    'cuda_problem',
    'hide_gpus',
    'precheck',
    'set_collect_device',
]

#: ``--device`` help text shared by the tools.
DEVICE_HELP = ('cpu: run on CPU processes (with --launcher pytorch: over '
               'gloo) even where GPUs exist; default: CUDA, which '
               '--launcher pytorch|slurm|mpi requires')


class LaunchError(RuntimeError):
    """A run that cannot start as asked, explained in one line."""


def hide_gpus() -> None:
    """Make this process see no GPU (``--device cpu``); call it before
    anything asks torch about CUDA."""
    os.environ['CUDA_VISIBLE_DEVICES'] = ''


def _torch_build() -> str:
    cuda = torch.version.cuda
    return (f'torch {torch.__version__} ('
            f'{"CUDA " + cuda if cuda else "a CPU-only build"}), '
            f'torch.cuda.is_available() = {torch.cuda.is_available()}')


def cuda_problem(local_rank: int = 0) -> Optional[str]:
    """Why this process has no usable CUDA device, or None if it has one."""
    if not torch.cuda.is_available():
        return f'no usable CUDA device: {_torch_build()}'
    count = torch.cuda.device_count()
    if local_rank >= count:
        return (f'local rank {local_rank} has no CUDA device: '
                f'{count} visible ({_torch_build()})')
    return None


def cuda_launch_error(launcher: str, problem: str) -> LaunchError:
    """The one-line refusal of a launcher without a usable CUDA device."""
    return LaunchError(
        f'--launcher {launcher} needs a CUDA device per process: {problem}; '
        'to run CPU processes over gloo instead, pass --device cpu')


def check_amp(cfg: Config, device: Optional[str]) -> None:
    """``AmpOptimWrapper`` (``--amp``) needs CUDA: stop in one line on CPU
    instead of mmengine's assertion."""
    wrapper = cfg.get('optim_wrapper', None) or {}
    if wrapper.get('type') != 'AmpOptimWrapper':
        return
    if device == 'cpu' or not torch.cuda.is_available():
        raise LaunchError(
            '--amp (AmpOptimWrapper) needs a CUDA device and this run is on '
            f'the CPU ({_torch_build()}): train without --amp; the frozen '
            'encoders keep the dtype their config sets (encoder_dtype)')


def _metric_configs(evaluator: Any) -> Iterator[dict]:
    """The metric dicts of an evaluator config (a dict, a list of them, or
    ``dict(type='Evaluator', metrics=...)``)."""
    if evaluator is None:
        return
    if isinstance(evaluator, dict) and 'metrics' in evaluator:
        evaluator = evaluator['metrics']
    for metric in evaluator if isinstance(evaluator, (list, tuple)) \
            else [evaluator]:
        if isinstance(metric, dict):
            yield metric


def set_collect_device(cfg: Config, backend: str) -> None:
    """Collect metric results over the process group on NCCL
    (``collect_device='gpu'``), through disk on other backends; a
    ``collect_device`` the config sets itself is kept."""
    device = 'gpu' if backend == 'nccl' else 'cpu'
    for key in ('val_evaluator', 'test_evaluator'):
        for metric in _metric_configs(cfg.get(key, None)):
            metric.setdefault('collect_device', device)


def _use_gloo(cfg: Config) -> None:
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = \
        'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


def _init_process_group(cfg: Config, launcher: str, device: str) -> None:
    env_cfg = cfg.get('env_cfg', {}) or {}
    start = (env_cfg.get('mp_cfg', {}) or {}).get('mp_start_method')
    if start and mp.get_start_method(allow_none=True) is None:
        mp.set_start_method(start)  # as the runner will, without a warning
    dist_cfg = dict(env_cfg.get('dist_cfg', {}) or {})
    if device == 'cpu':  # mmengine's init_dist would call cuda.set_device
        dist_cfg.pop('backend', None)
        torch_dist.init_process_group(backend='gloo', **dist_cfg)
    else:
        init_dist(launcher, **dist_cfg)


def configure_launcher(cfg: Config, launcher: str,
                       device: Optional[str] = None) -> None:
    """Check the device, set ``cfg.launcher`` and create the process group.

    Args:
        cfg: the config the runner will be built from (modified in place).
        launcher: ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.
        device: ``'cpu'`` (``--device cpu``) or None (CUDA for a launcher).

    Raises:
        LaunchError: a launcher without a usable CUDA device and no
            ``--device cpu``; ``--device cpu`` with another launcher than
            ``pytorch``; ``--launcher pytorch`` outside torchrun.
    """
    cfg.launcher = launcher
    if launcher == 'none':
        return
    if device == 'cpu':
        if launcher != 'pytorch':
            raise LaunchError(
                f'--device cpu runs over gloo with --launcher pytorch '
                f'(tools/dist_train.sh, torchrun), not --launcher {launcher}')
        _use_gloo(cfg)
    else:
        local_rank = int(os.environ.get(
            'SLURM_LOCALID' if launcher == 'slurm' else 'LOCAL_RANK', 0))
        problem = cuda_problem(local_rank)
        if problem:
            raise cuda_launch_error(launcher, problem)
    if launcher == 'pytorch' and ('RANK' not in os.environ
                                  or 'WORLD_SIZE' not in os.environ):
        raise LaunchError('--launcher pytorch needs RANK/WORLD_SIZE: start '
                          'it with tools/dist_train.sh or torchrun')
    if not torch_dist.is_initialized():
        _init_process_group(cfg, launcher, device)
    # imported here: tools/dist_*.sh run this file as a script (precheck)
    from projects.risam.utils.sync_bn import resolve_sync_bn
    backend = str(torch_dist.get_backend())
    set_collect_device(cfg, backend)
    resolve_sync_bn(cfg, backend)  # SyncBatchNorm needs CUDA (NCCL)


def precheck(argv: List[str]) -> int:
    """The check of ``tools/dist_*.sh``: ``--prog NAME --nproc N`` (N
    processes on this node), then the tool's options (only ``--device`` is
    read; the tool itself validates them). Prints the
    one-line refusal and returns 1, or returns 0."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument('--prog', default='launch')
    parser.add_argument('--nproc', type=int, default=1)
    parser.add_argument('--device', default=None)
    args, _ = parser.parse_known_args(argv)
    if args.device == 'cpu':
        return 0
    problem = cuda_problem(args.nproc - 1)
    if problem:
        print(f'{args.prog}: error: {cuda_launch_error("pytorch", problem)}',
              file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(precheck(sys.argv[1:]))
