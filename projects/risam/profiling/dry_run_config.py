"""The two configs of a dry run, derived from a config as written: a short
training run that validates and saves, and the resume from its checkpoint.
"""
import copy
from typing import Tuple

__all__ = ['dry_run_config', 'is_iter_based', 'resume_config']


def is_iter_based(cfg) -> bool:
    """Whether ``cfg``'s training loop counts iterations (else epochs)."""
    return 'max_iters' in cfg.train_cfg


def dry_run_config(cfg, work_dir: str, *, iters: int,
                   val_samples: int) -> Tuple[object, str]:
    """A copy of ``cfg`` on a train set of ``iters`` batches and a val set
    of ``val_samples`` samples, for ``iters`` iterations (one epoch of an
    epoch-based loop), validating at the end, in ``work_dir``, on one
    process; and the name of the checkpoint it ends with."""
    cfg = copy.deepcopy(cfg)  # Config.copy() shares the nested dicts
    cfg.work_dir = work_dir
    batch = cfg.train_dataloader.batch_size
    cfg.train_dataloader.dataset.indices = iters * batch
    cfg.val_dataloader.dataset.indices = val_samples
    if is_iter_based(cfg):
        cfg.train_cfg.max_iters = iters
        cfg.train_cfg.val_interval = iters
        last = f'iter_{iters}.pth'
    else:
        cfg.train_cfg.max_epochs = 1
        last = 'epoch_1.pth'
    cfg.train_cfg.val_begin = 1
    cfg.launcher = 'none'
    cfg.resume = False
    cfg.load_from = None
    return cfg, last


def resume_config(cfg, checkpoint: str):
    """A copy of the :func:`dry_run_config` ``cfg`` that resumes from
    ``checkpoint`` and trains one more iteration (no val, no save)."""
    cfg = copy.deepcopy(cfg)  # Config.copy() shares the nested dicts
    cfg.train_dataloader.dataset.indices = cfg.train_dataloader.batch_size
    if is_iter_based(cfg):
        cfg.train_cfg.max_iters += 1
        cfg.train_cfg.val_begin = cfg.train_cfg.max_iters + 1
    else:
        cfg.train_cfg.max_epochs = 2
        cfg.train_cfg.val_begin = 3
    cfg.default_hooks.checkpoint.save_last = False
    cfg.default_hooks.checkpoint.interval = 10**6
    cfg.resume = True
    cfg.load_from = checkpoint
    return cfg
