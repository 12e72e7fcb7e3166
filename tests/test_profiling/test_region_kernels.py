"""projects.risam.profiling.region_kernels: the kernels of an unrestricted
training step, by region (the CPU's flash kernel here)."""
import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from projects.risam.profiling import GpuCheckError, adam, make_batch, train_step
from projects.risam.profiling.region_kernels import step_kernels


def test_kernels_by_region_and_math_is_an_error(tiny):
    _, model = tiny
    inputs, samples = make_batch(1, 1, 128, 5, torch.device('cpu'))
    opt = adam(model)

    def step():
        train_step(model, opt, inputs, samples)

    counts = step_kernels(step, model)
    # the tiny encoder: 6 blocks, one SDPA call each
    assert counts['encoder'] == {'flash': 6}
    assert counts['decoder'] == {'flash': 6}
    with sdpa_kernel([SDPBackend.MATH]), torch.no_grad():
        with pytest.raises(GpuCheckError,
                           match='math SDPA kernel ran in the encoder and '
                           'decoder'):
            step_kernels(lambda: model(inputs, samples, mode='loss'), model)
