"""A two-process DDP run that can fail: every rank steps on its own data,
and after two steps the ranks must hold the same weights as a one-process
reference (NCCL on GPUs, gloo on the CPU).

Each rank ``r`` takes, at step ``s``, the batch :func:`rank_batch` ``(s,
r)``, computes its loss through the model wrapped as mmengine's runner
wraps it (:func:`wrap_as_runner`), steps Adam, and after two steps saves
its losses and trainable weights. The reference (:func:`reference_steps`)
runs in one process:

- on gloo, BatchNorm keeps per-rank statistics (``SyncBatchNorm`` needs
  CUDA), so the reference runs each rank's batch separately and averages
  the gradients, as DDP's all-reduce does;
- on CUDA with ``sync_bn`` (the paper configs: ``'torch'``), BatchNorm is
  converted as ``Runner.wrap_model`` converts it, normalising over the
  global batch, so the reference steps once on the concatenated batch.

Pass: both ranks' weights equal, and equal to the reference, within
:data:`TOLERANCE` (absolute, per weight). A gradient that is not reduced,
or a rank that steps on other data than it reports, moves Adam's first
update (about ``lr x sign(grad)`` = 1e-4) and fails it. The ranks are
fresh processes (``python -m projects.risam.profiling.ddp_compare
SPEC.json``, or a command given to :func:`compare_ddp`) with NCCL, and
forked from this process with gloo (nothing to import again), on a free
port, stopped after ``timeout`` seconds in all.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from .build import build_core, config_without_checkpoints
from .errors import GpuCheckError
from .synthetic_batch import make_batch
from .training_step import adam, total_loss

__all__ = ['STEPS', 'TOLERANCE', 'compare_ddp', 'ddp_worker', 'free_port',
           'prepare_for_ddp', 'rank_batch', 'reference_steps',
           'wrap_as_runner']

#: The folder that holds ``projects/``: the ranks import the package from it.
_ROOT = str(Path(__file__).resolve().parents[3])
#: Optimizer steps of each rank and of the reference.
STEPS = 2
#: Largest allowed |weight difference| (rank vs rank, rank vs reference)
#: after :data:`STEPS` Adam steps at lr 1e-4: far below one update.
TOLERANCE = 5e-6
_WORDS = 17
#: CPU threads of a gloo rank, and of the CPU reference: one count, so
#: that their matmuls sum in the same order (Adam turns the last bit of a
#: tiny gradient into a visible step).
_RANK_THREADS = 1
_GLOO_NO_SYNC_BN = ('SyncBatchNorm needs CUDA: on gloo each rank keeps its '
                    'own BatchNorm statistics')


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def rank_batch(step: int, rank: int, batch: int, size: int,
               device: torch.device) -> Tuple[torch.Tensor, List]:
    """Rank ``rank``'s batch at step ``step``: :func:`make_batch` (``batch``
    images, one sentence each) with its own seed."""
    return make_batch(batch, batch, size, _WORDS, device,
                      seed=1000 + 100 * step + rank)


def _trainable(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten().double().cpu()
                      for p in model.parameters() if p.requires_grad])


def prepare_for_ddp(model: nn.Module, sync_bn: Optional[str],
                    cuda: bool) -> nn.Module:
    """``model`` with BatchNorm converted to ``sync_bn``'s SyncBatchNorm
    (mmengine's ``convert_sync_batchnorm``, as ``Runner.wrap_model`` does)
    when on CUDA; unchanged otherwise."""
    if not (cuda and sync_bn):
        return model
    from mmengine.model import convert_sync_batchnorm
    return convert_sync_batchnorm(model, implementation=sync_bn)


def wrap_as_runner(model: nn.Module, cfg, device: torch.device) -> nn.Module:
    """``model`` wrapped as mmengine's runner wraps ``cfg``'s model on a
    distributed run: BatchNorm converted (:func:`prepare_for_ddp`), then
    ``MMDistributedDataParallel`` with ``broadcast_buffers=False`` and the
    config's ``find_unused_parameters``."""
    from mmengine.model import MMDistributedDataParallel
    cuda = device.type == 'cuda'
    model = prepare_for_ddp(model, cfg.get('sync_bn'), cuda)
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    return MMDistributedDataParallel(
        module=model, device_ids=[device.index] if cuda else None,
        broadcast_buffers=False,
        find_unused_parameters=wrapper.get('find_unused_parameters', False))


def _step(model: nn.Module, opt: torch.optim.Optimizer,
          batches: Sequence[Tuple[torch.Tensor, List]]) -> List[float]:
    """One Adam step on the mean of the batches' gradients; their losses."""
    opt.zero_grad(set_to_none=True)
    losses = []
    for inputs, samples in batches:
        loss = total_loss(model(inputs, samples, mode='loss'))
        loss.backward()
        losses.append(float(loss.detach()))
    if len(batches) > 1:
        for group in opt.param_groups:
            for p in group['params']:
                if p.grad is not None:
                    p.grad.div_(len(batches))
    opt.step()
    return losses


def reference_steps(cfg, device: torch.device, *, world: int, batch: int,
                    size: int) -> Dict[str, object]:
    """The one-process reference of :func:`compare_ddp`: ``{losses:
    [rank][step], weights: trainable weights after STEPS steps}``.
    Per-rank batches with averaged gradients, or, on CUDA with
    ``cfg.sync_bn``, one step on the concatenated batch."""
    threads = torch.get_num_threads()
    if device.type == 'cpu':
        torch.set_num_threads(_RANK_THREADS)
    try:
        model = build_core(cfg.model, device)
        model.train()
        opt = adam(model)
        concat = device.type == 'cuda' and bool(cfg.get('sync_bn'))
        losses = []
        for step in range(STEPS):
            parts = [rank_batch(step, r, batch, size, device)
                     for r in range(world)]
            if concat:
                parts = [(torch.cat([p[0] for p in parts]),
                          [s for p in parts for s in p[1]])]
            losses.append(_step(model, opt, parts))
    finally:
        torch.set_num_threads(threads)
    # per rank, as the ranks report them (concatenated: one entry)
    return dict(losses=[list(r) for r in zip(*losses)],
                weights=_trainable(model))


def ddp_worker(spec: dict) -> None:
    """One rank of :func:`compare_ddp`: ``spec`` has ``rank, world, port,
    backend, config, batch, size, out_dir``; writes ``{losses, weights}``
    to ``out_dir/rank<r>.pt``."""
    import torch.distributed as dist
    rank, world, backend = spec['rank'], spec['world'], spec['backend']
    if backend == 'gloo':
        torch.set_num_threads(_RANK_THREADS)  # the reference's, see there
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(spec['port']))
    dist.init_process_group(backend, rank=rank, world_size=world)
    try:
        device = (torch.device('cuda', rank) if backend == 'nccl' else
                  torch.device('cpu'))
        if device.type == 'cuda':
            torch.cuda.set_device(device)
        cfg = config_without_checkpoints(spec['config'])
        model = build_core(cfg.model, device)
        model.train()
        wrapped = wrap_as_runner(model, cfg, device)
        opt = adam(wrapped.module)
        losses = [_step(wrapped, opt, [rank_batch(
            step, rank, spec['batch'], spec['size'], device)])[0]
            for step in range(STEPS)]
        torch.save(dict(losses=losses, weights=_trainable(wrapped.module)),
                   os.path.join(spec['out_dir'], f'rank{rank}.pt'))
    finally:
        dist.destroy_process_group()


class _Forked:
    """A rank forked from this process (gloo on the CPU: no interpreter
    to start, nothing to import again), with ``Popen``'s poll and kill."""

    def __init__(self, target: Callable[[dict], None], spec: dict) -> None:
        import multiprocessing
        self.process = multiprocessing.get_context('fork').Process(
            target=target, args=(spec, ), daemon=True)
        self.process.start()

    def poll(self) -> Optional[int]:
        return self.process.exitcode

    def kill(self) -> None:
        self.process.kill()

    def wait(self, timeout: float) -> None:
        self.process.join(timeout)


def _wait(procs: list, timeout: float) -> List[int]:
    """Exit codes of ``procs`` (``Popen`` or :class:`_Forked`); all are
    killed when one fails or when ``timeout`` seconds have passed in all."""
    deadline = time.monotonic() + timeout
    try:
        while True:
            codes = [p.poll() for p in procs]
            if all(c == 0 for c in codes):
                return codes
            failed = [(r, c) for r, c in enumerate(codes) if c not in (0, None)]
            if failed:
                raise GpuCheckError(
                    'rank ' + ', '.join(f'{r} exited with {c}'
                                        for r, c in failed))
            if time.monotonic() > deadline:
                raise GpuCheckError(f'ranks still running after {timeout:g} '
                                    's: stopped')
            time.sleep(0.05)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


def compare_ddp(config: str, *, backend: str, batch: int, size: int,
                world: int = 2, timeout: float = 300,
                worker: Union[None, Sequence[str],
                              Callable[[dict], None]] = None) -> dict:
    """A ``world``-process DDP run against the one-process reference on
    ``config``'s model (random weights).

    Args:
        worker: the command that runs one rank, given the path of its
            spec file as its last argument (default with NCCL: this
            module), or a function of the spec run in a forked process
            (gloo only; default with gloo: :func:`ddp_worker`).
        timeout: seconds for all ranks together; then they are killed.

    Returns:
        ``{backend, world, steps, sync_bn, tolerance, losses (per rank),
        reference_losses, max_diff_between_ranks, max_diff_to_reference,
        equal}``.

    Raises:
        GpuCheckError: a rank failed or timed out, or the weights differ
            by more than :data:`TOLERANCE` (the result is in the message).
    """
    device = torch.device('cuda', 0) if backend == 'nccl' else torch.device(
        'cpu')
    cfg = config_without_checkpoints(config)
    if worker is None:
        worker = ([sys.executable, '-m', __name__] if backend == 'nccl'
                  else ddp_worker)
    if callable(worker) and backend == 'nccl':
        raise ValueError('NCCL ranks cannot be forked: give a command')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (_ROOT, os.environ.get('PYTHONPATH')) if p))
    port = free_port()
    with tempfile.TemporaryDirectory(prefix='risam_ddp_compare_') as tmp:
        procs = []
        for rank in range(world):
            spec = dict(rank=rank, world=world, port=port, backend=backend,
                        config=config, batch=batch, size=size, out_dir=tmp)
            if callable(worker):
                procs.append(_Forked(worker, spec))
                continue
            path = os.path.join(tmp, f'spec{rank}.json')
            with open(path, 'w') as f:
                json.dump(spec, f)
            procs.append(subprocess.Popen(list(worker) + [path], env=env))
        _wait(procs, timeout)
        ranks = [torch.load(os.path.join(tmp, f'rank{r}.pt'),
                            weights_only=True) for r in range(world)]
    ref = reference_steps(cfg, device, world=world, batch=batch, size=size)
    between = max(float((r['weights'] - ranks[0]['weights']).abs().max())
                  for r in ranks)
    to_ref = max(float((r['weights'] - ref['weights']).abs().max())
                 for r in ranks)
    sync_bn = cfg.get('sync_bn') if backend == 'nccl' else None
    result = dict(
        backend=backend, world=world, steps=STEPS,
        sync_bn=sync_bn if backend == 'nccl' else _GLOO_NO_SYNC_BN,
        tolerance=TOLERANCE, losses=[r['losses'] for r in ranks],
        reference_losses=ref['losses'], max_diff_between_ranks=between,
        max_diff_to_reference=to_ref,
        equal=between <= TOLERANCE and to_ref <= TOLERANCE)
    return result


if __name__ == '__main__':  # one rank: python -m ... SPEC.json
    with open(sys.argv[1]) as spec_file:
        ddp_worker(json.load(spec_file))
