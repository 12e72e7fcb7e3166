"""Let mmengine resume from its own checkpoints under ``weights_only`` loading.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True`` and refuses
every global that is not allow-listed. mmengine 0.10.7 checkpoints carry, next
to the tensors, the runner's ``message_hub`` state: :class:`HistoryBuffer`
objects (whose pickled state refers to ``HistoryBuffer.min`` & co through
``getattr``) holding numpy arrays and scalars. ``resume=True`` therefore fails
with "Unsupported global".

We keep ``weights_only`` loading on and allow-list exactly those classes. The
``getattr`` that the pickle needs is not the builtin: it is a guarded stand-in
that only resolves HistoryBuffer's registered statistics methods, so the
allow-list grants no general attribute access.
"""
import pickle
from typing import Any, List

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

# numpy moved ``numpy.core`` to ``numpy._core`` in 2.0; checkpoints written
# under either name must load.
_NUMPY_CORE_NAMES = ('numpy.core.multiarray', 'numpy._core.multiarray')
_NUMPY_SCALAR_TYPES = (np.bool_, np.int8, np.int16, np.int32, np.int64,
                       np.uint8, np.uint16, np.uint32, np.uint64, np.float16,
                       np.float32, np.float64)
# HistoryBuffer.__init__ registers these four; custom ones are added to
# ``HistoryBuffer._statistics_methods`` by ``register_statistics``.
_BUILTIN_STATISTICS = frozenset({'min', 'max', 'current', 'mean'})


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """``getattr`` restricted to ``HistoryBuffer.<statistics method>``."""
    allowed = _BUILTIN_STATISTICS.union(HistoryBuffer._statistics_methods)
    if obj is HistoryBuffer and name in allowed:
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'refusing getattr({obj!r}, {name!r}) while loading a checkpoint: '
        'only HistoryBuffer statistics methods are allow-listed')


def checkpoint_safe_globals() -> List[Any]:
    """The exact globals an mmengine 0.10.x training checkpoint refers to."""
    multiarray = np._core.multiarray if hasattr(np, '_core') else np.core.multiarray
    entries: List[Any] = [
        HistoryBuffer,
        np.ndarray,
        np.dtype,
        (_history_buffer_getattr, 'builtins.getattr'),
        (_history_buffer_getattr, '__builtin__.getattr'),
    ]
    for module in _NUMPY_CORE_NAMES:
        entries.append((multiarray._reconstruct, f'{module}._reconstruct'))
        entries.append((multiarray.scalar, f'{module}.scalar'))
    # numpy >= 1.25 pickles dtypes as instances of ``numpy.dtypes.*DType``.
    entries.extend(type(np.dtype(t)) for t in _NUMPY_SCALAR_TYPES)
    return entries


def register_checkpoint_safe_globals() -> None:
    """Allow-list :func:`checkpoint_safe_globals` for ``torch.load``.

    Idempotent; a no-op on torch versions without ``add_safe_globals``.
    """
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is not None:
        add(checkpoint_safe_globals())
