"""The compute dtype of a frozen image encoder (``encoder_dtype``).

A frozen encoder may run in bf16: its matmul weights (``nn.Linear``,
``nn.Conv2d``) are stored in bf16 once, and it runs under autocast, so the
residual stream, LayerNorms and position tables stay fp32 (the numerics of
plain autocast) while no weight is re-cast on each call: autocast caches
casts only for weights that require grad, so a frozen fp32 encoder under
plain autocast re-casts every weight on every forward.

``encoder_dtype`` is the one control: :func:`encoder_autocast` opens its own
autocast region, so a model trained with ``--amp`` still runs an ``'fp32'``
encoder in fp32, and a ``'bf16'`` encoder is bf16 with or without ``--amp``.
"""
import contextlib
import functools
import itertools
from typing import ContextManager, Optional

import torch
from mmengine.logging import print_log
from torch import nn

from ...utils.mapped_pages import file_mappings, release_file_pages

__all__ = [
    'ENCODER_DTYPES',
    'cast_matmul_weights',
    'cpu_has_native_bf16',
    'encoder_autocast',
    'resolve_encoder_dtype',
]

ENCODER_DTYPES = ('fp32', 'bf16')


@functools.lru_cache(maxsize=None)
def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX), as
    oneDNN sees it; without it bf16 kernels are emulated and slower than
    fp32."""
    flags = ''
    try:
        with open('/proc/cpuinfo') as f:
            flags = f.read()
    except OSError:
        pass
    if 'avx512_bf16' in flags or 'amx_bf16' in flags:
        return True
    check = getattr(torch.ops.mkldnn, '_is_mkldnn_bf16_supported', None)
    # without cpuinfo flags oneDNN's own check is the best guess; it is also
    # true for AVX512 CPUs that only emulate bf16, hence flags first
    return bool(check()) if check is not None and not flags else False


def resolve_encoder_dtype(requested: str, owner: str) -> str:
    """The dtype an encoder will compute in: ``requested`` (``'fp32'`` or
    ``'bf16'``), or ``'fp32'`` with one log line when bf16 is asked for on a
    machine with neither a CUDA device nor a CPU with native bf16."""
    if requested not in ENCODER_DTYPES:
        raise ValueError(f'{owner}: encoder_dtype must be one of '
                         f'{ENCODER_DTYPES}, got {requested!r}')
    if requested == 'bf16' and not torch.cuda.is_available() \
            and not cpu_has_native_bf16():
        print_log(f'{owner}: encoder_dtype=bf16 falls back to fp32: this '
                  'CPU has no native bf16 (avx512_bf16/amx_bf16) and no CUDA '
                  'device is available', logger='current')
        return 'fp32'
    return requested


def cast_matmul_weights(module: nn.Module, dtype: torch.dtype,
                        mapped_file: Optional[str] = None) -> int:
    """Store the weights of every ``nn.Linear``/``nn.Conv2d`` under
    ``module`` in ``dtype`` (in place); returns how many modules.

    With ``mapped_file`` (the checkpoint the module's tensors are
    memory-mapped from), every tensor of ``module`` is copied out of the
    file, cast or as it is, and the file's pages under the old tensor are
    given back right after its copy (:mod:`projects.risam.utils.mapped_pages`):
    the module then holds no part of the file, and the peak resident set
    while converting is the copies plus one tensor, not the whole file on
    top of them.
    """
    maps = file_mappings(mapped_file) if mapped_file else []
    matmul = [m for m in module.modules()
              if isinstance(m, (nn.Linear, nn.Conv2d))]
    to_cast = {id(t) for m in matmul
               for t in itertools.chain(m.parameters(recurse=False),
                                        m.buffers(recurse=False))
               if t.is_floating_point()}
    for tensor in itertools.chain(module.parameters(), module.buffers()):
        old = tensor.data
        if id(tensor) in to_cast:
            tensor.data = old.to(dtype)
        elif maps:
            tensor.data = old.clone()
        else:
            continue
        release_file_pages(old, maps)
        del old
    return len(matmul)


def encoder_autocast(device_type: str, dtype: str) -> ContextManager:
    """The autocast region a frozen encoder runs in: bf16 for ``'bf16'``,
    autocast disabled for ``'fp32'`` (an outer ``--amp`` region included).
    """
    if device_type not in ('cuda', 'cpu'):
        return contextlib.nullcontext()
    return torch.autocast(device_type, dtype=torch.bfloat16,
                          enabled=dtype == 'bf16')
