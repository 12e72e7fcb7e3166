"""``cfg.sync_bn`` where it can run: NCCL process groups only.

FE and the decoder's upsampler have BatchNorm. On a distributed run
mmengine's ``Runner.wrap_model`` converts them with
``convert_sync_batchnorm(model, cfg.sync_bn)``, so every rank normalises
with, and keeps, the statistics of the whole global batch; without it each
rank keeps its own running statistics and the rank-0 checkpoint is not the
model that distributed validation scored. torch's ``SyncBatchNorm`` needs
CUDA tensors, so on a CPU (gloo) process group the setting is dropped with
one log line (each rank then keeps its own statistics, as before). A run
that is not distributed needs nothing: mmengine reverts SyncBN there.
"""
from typing import Optional

from mmengine.config import Config
from mmengine.logging import print_log

__all__ = ['resolve_sync_bn']


def resolve_sync_bn(cfg: Config, backend: Optional[str]) -> Optional[str]:
    """Keep ``cfg.sync_bn`` for an NCCL process group, drop it otherwise.

    Call it once the launcher's backend is known (``None``: not
    distributed) and before the Runner is built. Returns the value that
    stays in ``cfg`` (``None`` when there is none).
    """
    sync_bn = cfg.get('sync_bn', None)
    if sync_bn is None or backend is None or backend == 'nccl':
        return sync_bn
    cfg.pop('sync_bn')
    print_log(f"sync_bn={sync_bn!r} dropped: SyncBatchNorm needs CUDA and "
              f"this run's process group is {backend}; each rank keeps its "
              'own BatchNorm statistics', logger='current')
    return None
