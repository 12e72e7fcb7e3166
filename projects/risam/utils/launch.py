"""Make mmengine's ``pytorch`` launcher work on machines without a GPU.

mmengine 0.10.7 hard-codes two CUDA assumptions for ``--launcher pytorch``:
``init_dist`` calls ``torch.cuda.set_device`` before creating the process
group, and ``Runner.wrap_model`` passes ``device_ids=[LOCAL_RANK]`` to DDP,
which DDP rejects for CPU modules.  On a CPU-only machine we therefore create
the gloo process group ourselves (the runner skips ``init_dist`` when a group
exists) and wrap the model without ``device_ids``.
"""
import os

import torch
import torch.distributed as torch_dist
from mmengine.config import Config


def configure_launcher(cfg: Config, launcher: str) -> None:
    """Set ``cfg.launcher`` and, on CPU, prepare a gloo process group.

    Args:
        cfg: the config the runner will be built from (modified in place).
        launcher: ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.
    """
    cfg.launcher = launcher
    if launcher == 'none' or torch.cuda.is_available():
        return
    env_cfg = cfg.setdefault('env_cfg', {})
    env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    if launcher == 'pytorch' and not torch_dist.is_initialized():
        if 'RANK' not in os.environ or 'WORLD_SIZE' not in os.environ:
            raise RuntimeError(
                '--launcher pytorch needs RANK/WORLD_SIZE: start it with '
                'tools/dist_train.sh or torchrun')
        torch_dist.init_process_group(backend='gloo')
