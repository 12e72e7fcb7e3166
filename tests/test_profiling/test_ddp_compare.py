"""projects.risam.profiling.ddp_compare: two gloo ranks, each on its own
data, against the one-process reference; a mutated rank fails it."""
import sys

import pytest
import torch

from projects.risam.profiling import GpuCheckError
from projects.risam.profiling import ddp_compare as dc


def _without_allreduce(spec):
    """A rank that steps on its own gradient (no DDP wrapper, so no
    all-reduce)."""
    class Plain(torch.nn.Module):
        def __init__(self, model, cfg, device):
            super().__init__()
            self.module = model

        def forward(self, *args, **kwargs):
            return self.module(*args, **kwargs)

    dc.wrap_as_runner = Plain
    dc.ddp_worker(spec)


def _other_data(spec):
    """Rank 1 steps on another batch than the one it is given."""
    given = dc.rank_batch
    dc.rank_batch = lambda step, rank, *a: given(step, rank + 7 * rank, *a)
    dc.ddp_worker(spec)


@pytest.mark.parametrize('mutant', [_without_allreduce, _other_data])
def test_a_mutated_rank_fails_the_comparison(tiny_config, mutant):
    """Correct ranks give 0.0 (the whole check's test); a rank without the
    all-reduce, or on other data, moves weights by about one Adam update
    (1e-4), far past the tolerance."""
    out = dc.compare_ddp(tiny_config, backend='gloo', batch=1, size=128,
                         worker=mutant)
    assert not out['equal']
    assert out['max_diff_to_reference'] > 20 * dc.TOLERANCE
    if mutant is _without_allreduce:
        assert out['max_diff_between_ranks'] > 20 * dc.TOLERANCE


def test_a_rank_that_dies_stops_the_run_at_once(tiny_config):
    """The other rank is not waited for (it would hang in the all-reduce
    until the timeout): the error names the rank and its exit status."""
    with pytest.raises(GpuCheckError, match=r'^rank [01] exited with 3'):
        dc.compare_ddp(tiny_config, backend='gloo', batch=1, size=128,
                       worker=[sys.executable, '-c',
                               'import sys; sys.exit(3)'], timeout=60)


def test_ranks_past_the_timeout_are_stopped(tiny_config):
    with pytest.raises(GpuCheckError, match='still running after 0.5 s'):
        dc.compare_ddp(tiny_config, backend='gloo', batch=1, size=128,
                       worker=[sys.executable, '-c',
                               'import time; time.sleep(30)'], timeout=0.5)


def test_the_cuda_path_converts_batchnorm(tiny):
    """With ``sync_bn='torch'`` (the paper configs) the CUDA path converts
    every BatchNorm to SyncBatchNorm, as mmengine's runner does; gloo
    keeps them (SyncBatchNorm needs CUDA)."""
    _, model = tiny
    kinds = {type(m).__name__ for m in model.modules()}
    assert 'BatchNorm2d' in kinds and 'SyncBatchNorm' not in kinds
    converted = dc.prepare_for_ddp(model, 'torch', cuda=True)
    kinds = [type(m).__name__ for m in converted.modules()]
    assert 'SyncBatchNorm' in kinds and 'BatchNorm2d' not in kinds
    assert dc.prepare_for_ddp(model, 'torch', cuda=False) is model
    assert dc.prepare_for_ddp(model, None, cuda=True) is model
