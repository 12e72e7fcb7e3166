"""Timing loops that count what the device computed, not what was queued.

On CUDA a kernel launch returns before the kernel ends, so every timed span
here starts and ends with :func:`synchronize`; on the CPU that is a no-op.
"""
import time
from typing import Callable, Dict, Optional, Tuple

import torch

__all__ = ['interleaved', 'synchronize', 'timed']


def synchronize(device: Optional[torch.device]) -> None:
    """Wait for ``device``'s queued work (CUDA); nothing on other devices."""
    if device is not None and torch.device(device).type == 'cuda':
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device, *, iters: int,
          warmup: int = 1) -> Dict[str, float]:
    """Mean seconds of ``fn()`` over ``iters`` calls after ``warmup``, and
    the peak memory on ``device`` (CUDA; 0 elsewhere) during the timed calls.

    The device is synchronised once before and once after the timed calls
    (not per call), so queued calls overlap as they do in training.

    Returns:
        ``{'seconds_per_iter': float (5 decimals), 'peak_memory_bytes': int}``
    """
    device = torch.device(device)
    for _ in range(warmup):
        fn()
    synchronize(device)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    for _ in range(iters):
        fn()
    synchronize(device)
    seconds = (time.perf_counter() - t0) / iters
    peak = (torch.cuda.max_memory_allocated(device)
            if device.type == 'cuda' else 0)
    return dict(seconds_per_iter=round(seconds, 5), peak_memory_bytes=peak)


def interleaved(*fns: Callable[[], object], reps: int,
                device: Optional[torch.device] = None) -> Tuple[float, ...]:
    """Best of ``reps`` wall times of each of ``fns`` (a baseline first),
    taking turns so that a change of machine load hits all of them; each
    call is synchronised on ``device`` (CUDA) at both ends."""
    best = [float('inf')] * len(fns)
    for _ in range(reps):
        for i, fn in enumerate(fns):
            synchronize(device)
            start = time.perf_counter()
            fn()
            synchronize(device)
            best[i] = min(best[i], time.perf_counter() - start)
    return tuple(best)
