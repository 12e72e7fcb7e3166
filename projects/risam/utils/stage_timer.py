"""Seconds per stage of a RISAM training iteration (the dry run and the
benchmark's cached-iteration breakdown)."""
import time
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, List, Optional

import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner

from .peak_memory import MeasurementError, peak_rss_bytes, reset_peak_rss

__all__ = ['StageTimer']


class StageTimer(Hook):
    """Seconds per stage of every training iteration, and per val sample.

    Stages are timed around the model's own calls: ``backbone.encode`` and
    ``backbone.enhance`` (the frozen and trained visual parts), forward
    hooks on ``text_encoder``, ``neck`` (fusion) and ``decode_head``,
    ``decode_head.loss_by_feat`` plus the optimizer wrapper's ``backward``
    (loss + backward), and its ``step`` + ``zero_grad`` (optimizer). On CUDA
    each boundary synchronises the device, so the seconds are the GPU's.
    """

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self.phase = 'idle'
        self.iters: List[Dict[str, float]] = []
        self.val_seconds = 0.0
        self.val_samples = 0
        self.save_seconds: List[float] = []
        self.peak_train_bytes = 0
        #: the peak before training reset it (model building, and for a
        #: resumed run everything before): part of the process's peak
        self.peak_before_train_bytes = 0
        self.first_iter: Optional[int] = None
        self.last_iter: Optional[int] = None
        self._t0 = 0.0

    @staticmethod
    def _now() -> float:
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.synchronize()
        return time.perf_counter()

    def _add(self, stage: str, seconds: float) -> None:
        if self.phase == 'train' and self.iters:
            self.iters[-1][stage] = self.iters[-1].get(stage, 0.) + seconds

    @contextmanager
    def timing(self, stage: str) -> Iterator[None]:
        t0 = self._now()
        try:
            yield
        finally:
            self._add(stage, self._now() - t0)

    def timed(self, fn: Callable, stage: str) -> Callable:
        """``fn`` with its calls timed as ``stage``."""

        def timed(*args, **kwargs):
            with self.timing(stage):
                return fn(*args, **kwargs)

        return timed

    def _wrap(self, obj, name: str, stage: str) -> None:
        setattr(obj, name, self.timed(getattr(obj, name), stage))

    def _hook_module(self, module: torch.nn.Module, stage: str) -> None:
        starts: List[float] = []
        module.register_forward_pre_hook(
            lambda m, a: starts.append(self._now()))
        module.register_forward_hook(
            lambda m, a, o: self._add(stage, self._now() - starts.pop()))

    def attach_model(self, model: torch.nn.Module) -> None:
        """Time the stages of ``model``'s own calls (a RISAM, or its DDP
        wrapper)."""
        model = getattr(model, 'module', model)
        if hasattr(model.backbone, 'encode'):
            self._wrap(model.backbone, 'encode', 'encode')
            self._wrap(model.backbone, 'enhance', 'enhance')
        for attr, stage in (('text_encoder', 'text'), ('neck', 'fusion'),
                            ('decode_head', 'decode')):
            if isinstance(getattr(model, attr, None), torch.nn.Module):
                self._hook_module(getattr(model, attr), stage)
        self._wrap(model.decode_head, 'loss_by_feat', 'loss_backward')

    def attach(self, runner: Runner) -> None:
        """Time ``runner.model``'s stages and its checkpoint saves."""
        self.attach_model(runner.model)
        save = runner.save_checkpoint

        def timed_save(*args, **kwargs):
            t0 = self._now()
            out = save(*args, **kwargs)
            self.save_seconds.append(self._now() - t0)
            return out

        runner.save_checkpoint = timed_save

    def before_train(self, runner) -> None:
        opt = runner.optim_wrapper
        self._wrap(opt, 'backward', 'loss_backward')
        self._wrap(opt, 'step', 'optimizer')
        self._wrap(opt, 'zero_grad', 'optimizer')
        self.peak_before_train_bytes = peak_rss_bytes()
        try:  # without a reset the peak includes model building
            reset_peak_rss()
        except MeasurementError:
            pass
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if self.first_iter is None:
            self.first_iter = runner.iter
        self.phase = 'train'
        self.iters.append({})
        self._t0 = self._now()

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        self.iters[-1]['iteration'] = self._now() - self._t0
        self.last_iter = runner.iter + 1
        self.phase = 'idle'
        self.peak_train_bytes = max(self.peak_train_bytes, peak_rss_bytes())

    def before_val_iter(self, runner, batch_idx, data_batch=None) -> None:
        self.phase = 'val'
        self._t0 = self._now()

    def after_val_iter(self, runner, batch_idx, data_batch=None,
                       outputs=None) -> None:
        self.val_seconds += self._now() - self._t0
        self.val_samples += len(outputs or [])
        self.phase = 'idle'
