"""Which SDPA kernels an unrestricted training step runs, region by region.

:func:`~.sdpa.sdpa_kernels` proves that a fused kernel *can* serve each
call; training runs without that restriction, and PyTorch picks the kernel
per call (flash cannot take SAM's additive relative-position bias, so the
encoder may get another one). :func:`step_kernels` runs one step under the
profiler, with the image encoder and the mask decoder marked as regions,
and names the kernels that ran in each. The MA blocks (Eq. 3-4) compute
their attention without SDPA, so the neck is not a region.
"""
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, List

from torch import nn

from .errors import GpuCheckError
from .sdpa import SDPA_OPS

__all__ = ['REGIONS', 'region_modules', 'step_kernels']

#: Region name -> the profiler range that marks it.
REGIONS = dict(encoder='risam::encoder', decoder='risam::decoder')


def region_modules(model: nn.Module) -> Dict[str, List[nn.Module]]:
    """``{encoder: the frozen image encoder's blocks (SAM's, which
    ``encode`` calls one by one; else the backbone), decoder: [the mask
    decoder]}`` of a RISAM model."""
    backbone = model.backbone
    blocks = getattr(getattr(backbone, 'encoder', None), 'blocks', None)
    return dict(encoder=list(blocks) if blocks is not None else [backbone],
                decoder=[model.decode_head])


@contextmanager
def _marked(modules: Dict[str, List[nn.Module]]) -> Iterator[None]:
    """Each module's forward runs inside its region's :data:`REGIONS`
    range."""
    from torch.profiler import record_function
    handles, open_ranges = [], {}

    def enter(name):
        def hook(module, args):
            open_ranges.setdefault(name, []).append(
                record_function(REGIONS[name]).__enter__())
        return hook

    def leave(name):
        def hook(module, args, output):
            open_ranges[name].pop().__exit__(None, None, None)
        return hook

    for name, group in modules.items():
        for module in group:
            handles.append(module.register_forward_pre_hook(enter(name)))
            handles.append(module.register_forward_hook(leave(name)))
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def _region_of(event) -> str:
    parent = event.cpu_parent
    while parent is not None:
        for name, label in REGIONS.items():
            if parent.name == label:
                return name
        parent = parent.cpu_parent
    return 'other'


def step_kernels(step: Callable[[], object], model: nn.Module) -> dict:
    """Run ``step`` (one training step of ``model``) under the profiler;
    ``{encoder: {kernel: calls}, decoder: {...}, other: {...}}`` of the
    forward SDPA calls (flash, efficient, cudnn, math).

    Raises:
        GpuCheckError: the math kernel ran (the region is named), or no
            SDPA call ran in the encoder or the decoder.
    """
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        with _marked(region_modules(model)):
            step()
    counts: Dict[str, Dict[str, int]] = dict(encoder={}, decoder={},
                                             other={})
    for event in prof.events():
        kind = SDPA_OPS.get(event.name)
        if kind is not None:
            region = counts[_region_of(event)]
            region[kind] = region.get(kind, 0) + 1
    math: List[str] = [r for r, c in counts.items() if c.get('math')]
    if math:
        raise GpuCheckError(f'the math SDPA kernel ran in the '
                            f'{" and ".join(math)}: {counts}')
    empty = [r for r in ('encoder', 'decoder') if not counts[r]]
    if empty:
        raise GpuCheckError(f'no SDPA call ran in the {" or ".join(empty)}')
    return counts
