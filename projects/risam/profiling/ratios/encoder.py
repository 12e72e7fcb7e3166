"""``encoder``: segment_anything's ``ImageEncoderViT`` against the same
module with every ``attn`` swapped for ``SAMSDPAttention`` (time, peak
memory, largest difference).

The peak memory of each path is measured in a fresh process
(:func:`peak_growth_mb` runs :func:`memory_worker` there):
``VmHWM`` after resetting it through ``/proc/self/clear_refs``, minus the
resident set before the forward, so neither path's freed pages nor the
parent can hide or inflate a peak.
"""
import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict

import torch

from projects.risam.utils.peak_memory import MeasurementError, reset_peak_rss, status_mb

from ..build import sam_encoder
from ..timing import interleaved

__all__ = ['bench_encoder', 'memory_worker', 'peak_growth_mb']

#: The folder that holds ``projects/``: the worker imports the package from it.
_ROOT = str(Path(__file__).resolve().parents[4])
#: The worker process: ``IMPL SIZE ARCH_JSON`` in, ``{"peak_mb": ...}`` out.
_WORKER = ('import json, sys\n'
           f'from {__name__} import memory_worker\n'
           'impl, size, arch = sys.argv[1:4]\n'
           'print(json.dumps(dict(peak_mb=memory_worker(\n'
           '    impl, json.loads(arch), int(size)))))\n')


def memory_worker(impl: str, arch: dict, size: int) -> float:
    """Peak RSS growth (MB) of one forward of the ``impl`` encoder
    (``'sam'`` or ``'sdpa'``) in this process."""
    from projects.risam.models.layers.sam_sdpa_attention import swap_sam_attention
    enc = sam_encoder(arch, size)
    if impl == 'sdpa':
        swap_sam_attention(enc)
    x = torch.randn(1, 3, size, size)
    reset_peak_rss()
    before = status_mb('VmRSS')
    with torch.no_grad():
        enc(x)
    return status_mb('VmHWM') - before


def peak_growth_mb(impl: str, arch: dict, size: int) -> float:
    """:func:`memory_worker` in a fresh process; raises
    :class:`MeasurementError` with the worker's last line if it failed."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (_ROOT, os.environ.get('PYTHONPATH')) if p))
    out = subprocess.run(
        [sys.executable, '-c', _WORKER, impl, str(size), json.dumps(arch)],
        capture_output=True, text=True, env=env)
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ['no output'])[-1]
        raise MeasurementError(f'memory worker ({impl}) failed: {last}')
    return json.loads(out.stdout.strip().splitlines()[-1])['peak_mb']


def bench_encoder(arch: dict, size: int, reps: int) -> Dict[str, object]:
    """SDPA vs segment_anything's attention: ``encoder_time_ratio``,
    ``encoder_max_abs_diff``, ``encoder_memory_ratio`` (ours / theirs). A
    failed memory measurement leaves ``encoder_memory_ratio`` None and names
    the reason under ``invalid``, instead of a ratio of wrong peaks."""
    from projects.risam.models.layers.sam_sdpa_attention import swap_sam_attention
    ref = sam_encoder(arch, size)
    ours = copy.deepcopy(ref)
    swap_sam_attention(ours)
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        want, got = ref(x), ours(x)
        t_ref, t_ours = interleaved(lambda: ref(x), lambda: ours(x), reps=reps)
    res = dict(encoder_time_ratio=t_ours / t_ref,
               encoder_max_abs_diff=(want - got).abs().max().item(),
               encoder_time_s=dict(segment_anything=t_ref, sdpa=t_ours))
    try:
        m_ref = peak_growth_mb('sam', arch, size)
        m_ours = peak_growth_mb('sdpa', arch, size)
    except MeasurementError as e:
        res.update(encoder_memory_ratio=None,
                   invalid=dict(encoder_memory_ratio=str(e)))
        return res
    res.update(encoder_memory_ratio=m_ours / m_ref,
               encoder_peak_mb=dict(segment_anything=m_ref, sdpa=m_ours))
    return res

