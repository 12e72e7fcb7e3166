"""Which scaled-dot-product-attention kernels run, and keeping them fused.

:func:`restricted_sdpa` lets only the named ``torch.nn.attention.SDPBackend``
back ends serve ``F.scaled_dot_product_attention``: a call none of them can
serve is a :class:`~.errors.GpuCheckError` instead of a silent fall back to
the math kernel. :func:`sdpa_kernels` runs a function under that restriction
and the profiler and names the kernels that ran.
"""
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, Sequence

from .errors import GpuCheckError

__all__ = ['FUSED_BACKENDS', 'SDPA_OPS', 'restricted_sdpa', 'sdpa_kernels']

#: SDPA back ends allowed while proving the kernel (no MATH).
FUSED_BACKENDS = ('EFFICIENT_ATTENTION', 'FLASH_ATTENTION')
#: The profiler's name of each SDPA kernel.
SDPA_OPS = {
    'aten::_scaled_dot_product_flash_attention': 'flash',
    'aten::_scaled_dot_product_flash_attention_for_cpu': 'flash',
    'aten::_scaled_dot_product_efficient_attention': 'efficient',
    'aten::_scaled_dot_product_cudnn_attention': 'cudnn',
    'aten::_scaled_dot_product_attention_math': 'math',
}
_NO_KERNEL = ('No available kernel', 'No viable backend')


@contextmanager
def restricted_sdpa(backends: Sequence[str]) -> Iterator[None]:
    """Only ``backends`` (names of ``torch.nn.attention.SDPBackend``) may
    run ``F.scaled_dot_product_attention``; a call none of them can serve
    raises :class:`GpuCheckError` instead of falling back."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    chosen = [getattr(SDPBackend, b) for b in backends]
    try:
        with sdpa_kernel(chosen):
            yield
    except RuntimeError as e:
        if any(m in str(e) for m in _NO_KERNEL):
            raise GpuCheckError(
                f'no {"/".join(backends)} SDPA kernel for this call: it '
                'would fall back to the math kernel') from e
        raise


def sdpa_kernels(fn: Callable[[], object], backends: Sequence[str]
                 ) -> Dict[str, int]:
    """Run ``fn`` under :func:`restricted_sdpa` and the profiler; return
    ``{kernel: calls}`` (flash, efficient, cudnn, math) of the SDPA calls.

    Raises:
        GpuCheckError: no SDPA call ran, or the math kernel ran.
    """
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        with restricted_sdpa(backends):
            fn()
    counts: Dict[str, int] = {}
    for event in prof.key_averages():
        kind = SDPA_OPS.get(event.key)
        if kind is not None:
            counts[kind] = counts.get(kind, 0) + event.count
    if not counts:
        raise GpuCheckError('no scaled_dot_product_attention call ran')
    if counts.get('math'):
        raise GpuCheckError(f'the math SDPA kernel ran: {counts}')
    return counts
