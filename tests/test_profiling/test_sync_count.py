"""projects.risam.profiling.sync_count: synchronisations against the
allowance (the counting itself needs CUDA)."""
import pytest
import torch

from projects.risam.profiling import GpuCheckError
from projects.risam.profiling.sync_count import ALLOWANCE, count_syncs, origin, tally


def test_origin_is_named_from_the_package_or_site_packages():
    assert origin('/x/y/projects/risam/models/a.py', 3) == (
        'projects/risam/models/a.py:3')
    assert origin('/v/lib/python3.12/site-packages/torch/optim/adam.py',
                  9) == 'torch/optim/adam.py:9'


def test_the_allowance_passes_and_anything_more_is_named():
    step = 'projects/risam/profiling/training_step.py:31'
    ok = tally([step])
    assert ok['count'] == 1 and ok['over_allowance'] == []
    assert set(ok['allowance']) == set(ALLOWANCE)
    over = tally([step, step, 'projects/risam/models/x.py:7'])
    assert over['count'] == 3
    assert over['by_origin'] == {step: 2, 'projects/risam/models/x.py:7': 1}
    assert over['over_allowance'] == [
        'projects/risam/models/x.py:7 x1 (not allowed)',
        'projects/risam/profiling/training_step.py x2 (allowed 1)']


def test_not_on_cuda_is_said():
    with pytest.raises(GpuCheckError, match='not on CUDA'):
        count_syncs(lambda: None, torch.device('cpu'))
