"""The table of the regression ratios' groups and the loop that runs them.

A group is a name and a function of :class:`RatioSettings` that returns
its JSON keys; ``--only`` chooses among :data:`GROUPS`' names, in the
table's order. A new group is one entry here (and its summary keys in
:mod:`.report`).
"""
import os
import time
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, Optional

import torch

from projects.risam.apis.infer_benchmark import bench_infer

from .bf16 import bench_encoder_bf16
from .cache import bench_cache
from .common import QUICK_ARCH
from .encoder import bench_encoder
from .interactive import bench_interactive
from .shared import bench_shared

__all__ = ['GROUPS', 'RatioSettings', 'ratio_settings', 'run_groups']


@dataclass(frozen=True)
class RatioSettings:
    """Sizes and repetitions of one run (``quick``: everything 64 px with
    :data:`~.common.QUICK_ARCH`; keys and sanity, not speed)."""
    arch: dict
    quick: bool
    size: int  # encoder input of the encoder and bf16 ratios
    model_size: int  # RISAM input of the shared ratio
    cache_size: int  # RISAM input of the cache ratio
    onnx_size: int  # input behind the ONNX decoder ratio
    reps: int  # timed repetitions per path (best of)


def ratio_settings(*, quick: bool, size: int = 1024, model_size: int = 512,
                   cache_size: int = 1024, onnx_size: int = 1024,
                   reps: int = 2) -> RatioSettings:
    """The settings of a run: SAM ViT-B at the given sizes, or with
    ``quick`` the quick encoder at 64 px."""
    from projects.risam.models.backbones.sam_backbone import SAM_ARCHS
    if quick:
        return RatioSettings(QUICK_ARCH, True, 64, 64, 64, onnx_size, reps)
    return RatioSettings(SAM_ARCHS['vit_b'], False, size, model_size,
                         cache_size, onnx_size, reps)


#: name -> the group's measurement, in the order they run
GROUPS: Dict[str, Callable[[RatioSettings], dict]] = {
    'shared': lambda s: bench_shared(s.arch, s.model_size, s.reps),
    'encoder': lambda s: bench_encoder(s.arch, s.size, s.reps),
    'bf16': lambda s: bench_encoder_bf16(s.arch, s.size, s.reps),
    'cache': lambda s: bench_cache(s.arch, s.cache_size, s.reps),
    'interactive': lambda s: bench_interactive(s.quick, s.onnx_size, s.reps),
    # batch inference over 20,000 small images (300 with quick)
    'infer': lambda s: bench_infer(300 if s.quick else 20000),
}


def run_groups(settings: RatioSettings, only: Optional[Iterable[str]] = None,
               log: Callable[[str], None] = print) -> dict:
    """The ``config`` entry (arch, sizes, reps, threads, load average) and
    the keys of every group in ``only`` (all when None), each group's time
    logged as ``[name] done in X s``."""
    unknown = set(only or ()) - set(GROUPS)
    if unknown:
        raise ValueError(f'unknown groups {sorted(unknown)}; known: {list(GROUPS)}')
    torch.set_num_threads(torch.get_num_threads())
    res = dict(config=dict(arch='quick' if settings.quick else 'vit_b',
                           encoder_size=settings.size,
                           model_size=settings.model_size,
                           cache_size=settings.cache_size,
                           reps=settings.reps, threads=torch.get_num_threads(),
                           loadavg=os.getloadavg()[0]))
    for name, measure in GROUPS.items():
        if only and name not in only:
            continue
        start = time.perf_counter()
        res.update(measure(settings))
        log(f'[{name}] done in {time.perf_counter() - start:.1f} s')
    return res
