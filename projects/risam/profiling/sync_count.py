"""Host-device synchronisations of one training step, and where they come
from (``torch.cuda.set_sync_debug_mode('warn')``).

A synchronisation stalls the host until the GPU has caught up, so the next
kernels are queued late. Under the ``'warn'`` mode every synchronising CUDA
call issues a warning at the Python line that made it; :func:`count_syncs`
collects them and :func:`tally` holds them against :data:`ALLOWANCE`.
"""
import os
import warnings
from collections import Counter
from typing import Callable, Dict, Iterable, Tuple

import torch

from .errors import GpuCheckError

__all__ = ['ALLOWANCE', 'SYNC_MESSAGE', 'count_syncs', 'origin', 'tally']

#: What torch's warning says (c10's ``warn_or_error_on_sync``).
SYNC_MESSAGE = 'synchronizing CUDA operation'
#: The synchronisations a training step may make: origin (the end of a
#: file's path) -> (count per step, why). The step reads its loss once, as
#: mmengine's logger does; any other origin, or more, is a failure.
ALLOWANCE: Dict[str, Tuple[int, str]] = {
    'projects/risam/profiling/training_step.py': (
        1, "the loss read once per step (as mmengine's logger reads it)"),
}


def origin(filename: str, lineno: int) -> str:
    """``'path:line'``, the path from ``projects/`` or from the installed
    package's folder (``site-packages``) when it is in one."""
    path = filename.replace(os.sep, '/')
    for marker, keep in (('/projects/risam/', 'projects/risam/'),
                         ('/site-packages/', ''), ('/dist-packages/', '')):
        if marker in path:
            path = keep + path.split(marker, 1)[1]
            break
    return f'{path}:{lineno}'


def tally(origins: Iterable[str],
          allowance: Dict[str, Tuple[int, str]] = ALLOWANCE) -> dict:
    """``origins`` (one ``'path:line'`` per synchronisation) against
    ``allowance``: ``{count, by_origin, allowance, over_allowance}``;
    ``over_allowance`` lists the origins past what is allowed."""
    by_origin = Counter(origins)
    used: Counter = Counter()
    over = []
    for where, n in sorted(by_origin.items()):
        path = where.rsplit(':', 1)[0]
        key = next((k for k in allowance if path.endswith(k)), None)
        if key is None:
            over.append(f'{where} x{n} (not allowed)')
            continue
        used[key] += n
    for key, n in sorted(used.items()):
        if n > allowance[key][0]:
            over.append(f'{key} x{n} (allowed {allowance[key][0]})')
    return dict(count=sum(by_origin.values()), by_origin=dict(by_origin),
                allowance={k: f'{n}: {why}' for k, (n, why)
                           in allowance.items()},
                over_allowance=over)


def count_syncs(fn: Callable[[], object], device: torch.device,
                allowance: Dict[str, Tuple[int, str]] = ALLOWANCE) -> dict:
    """:func:`tally` of the synchronisations ``fn()`` makes on CUDA
    ``device`` (under the ``'warn'`` sync debug mode).

    Raises:
        GpuCheckError: ``device`` is not a CUDA device.
    """
    if torch.device(device).type != 'cuda':
        raise GpuCheckError('not on CUDA')
    torch.cuda.synchronize(device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        torch.cuda.set_sync_debug_mode('warn')
        try:
            fn()
        finally:
            torch.cuda.set_sync_debug_mode('default')
    return tally([origin(w.filename, w.lineno) for w in caught
                  if SYNC_MESSAGE in str(w.message)], allowance)
