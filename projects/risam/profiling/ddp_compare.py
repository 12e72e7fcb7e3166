"""A multi-process DDP step against the one-process step, on a config's
model (NCCL on GPUs, gloo on the CPU).

Every rank gets the one-process batch, so the all-reduced gradient equals
the one-process one: the losses of steps 1 and 2 and the trainable weights
after step 1 must be equal. The ranks are fresh processes
(``python -m projects.risam.profiling.ddp_compare SPEC.json``, or a
command given to :func:`compare_ddp`).
"""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional, Sequence

import torch
from torch import nn

from .build import build_core, config_without_checkpoints
from .errors import GpuCheckError
from .synthetic_batch import make_batch
from .training_step import adam, total_loss

__all__ = ['compare_ddp', 'ddp_worker', 'two_steps']

#: The folder that holds ``projects/``: the ranks import the package from it.
_ROOT = str(Path(__file__).resolve().parents[3])


def two_steps(model: nn.Module, optimizer: torch.optim.Optimizer,
              device: torch.device, batch: int, size: int,
              forward: Optional[nn.Module] = None) -> dict:
    """Loss of step 1, optimizer step, loss of step 2 (before its update)
    and the sum of the trainable weights after step 1, on
    :func:`make_batch` (``batch`` images, one sentence each, 17 words);
    ``forward`` (e.g. a DDP wrapper of ``model``) computes the losses."""
    model.train()
    inputs, samples = make_batch(batch, batch, size, 17, device)
    run = forward if forward is not None else model

    def loss() -> torch.Tensor:
        return total_loss(run(inputs, samples, mode='loss'))

    first = loss()
    optimizer.zero_grad(set_to_none=True)
    first.backward()
    optimizer.step()
    checksum = sum(float(p.detach().double().sum())
                   for p in model.parameters() if p.requires_grad)
    with torch.no_grad():
        second = loss()
    return dict(loss_step1=float(first.detach()), loss_step2=float(second),
                weight_sum=checksum)


def ddp_worker(spec: dict) -> None:
    """One rank of :func:`compare_ddp`: ``spec`` has ``rank, world, port,
    backend, config, batch, size, out``; the one-process batch on every
    rank, one DDP step, then the loss again; rank 0 writes the result to
    ``spec['out']`` (JSON)."""
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
        model = build_core(config_without_checkpoints(spec['config']).model,
                           device)
        ddp = DDP(model, device_ids=[rank] if device.type == 'cuda' else None)
        result = two_steps(model, adam(model), device, spec['batch'],
                           spec['size'], forward=ddp)
        if rank == 0:
            with open(spec['out'], 'w') as f:
                json.dump(result, f)
    finally:
        dist.destroy_process_group()


def compare_ddp(config: str, *, backend: str, batch: int, size: int,
                world: int = 2, port: int = 29533, timeout: float = 1200,
                worker: Optional[Sequence[str]] = None) -> dict:
    """A ``world``-process step against the one-process step on
    ``config``'s model (random weights).

    Args:
        worker: the command that runs one rank, given the path of its
            spec file as its last argument (default: this module).

    Returns:
        ``{backend, world, one_process, two_process, equal}``: the two
        :func:`two_steps` results, and whether every figure agrees within
        1e-5 (relative, at least absolute).
    """
    device = torch.device('cuda', 0) if backend == 'nccl' else torch.device(
        'cpu')
    model = build_core(config_without_checkpoints(config).model, device)
    single = two_steps(model, adam(model), device, batch, size)
    del model
    worker = list(worker or [sys.executable, '-m', __name__])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (_ROOT, os.environ.get('PYTHONPATH')) if p))
    with tempfile.TemporaryDirectory(prefix='risam_ddp_compare_') as tmp:
        out = os.path.join(tmp, 'rank0.json')
        procs = []
        for rank in range(world):
            spec = os.path.join(tmp, f'spec{rank}.json')
            with open(spec, 'w') as f:
                json.dump(dict(rank=rank, world=world, port=port,
                               backend=backend, config=config, batch=batch,
                               size=size, out=out), f)
            procs.append(subprocess.Popen(worker + [spec], env=env))
        codes = [p.wait(timeout=timeout) for p in procs]
        if any(codes) or not os.path.exists(out):
            raise GpuCheckError(f'{backend} ranks exited with {codes}')
        with open(out) as f:
            multi = json.load(f)
    equal = all(abs(single[k] - multi[k]) <= 1e-5 * max(1., abs(single[k]))
                for k in single)
    return dict(backend=backend, world=world, one_process=single,
                two_process=multi, equal=equal)


if __name__ == '__main__':  # one rank: python -m ... SPEC.json
    with open(sys.argv[1]) as spec_file:
        ddp_worker(json.load(spec_file))
