"""projects.risam.profiling.sdpa: fused kernels only, named by the
profiler (the GPU check's attention proof, run with the CPU's flash
kernel)."""
import pytest
import torch

from projects.risam.profiling import GpuCheckError
from projects.risam.profiling.gpu_check import measure_attention
from projects.risam.profiling.sdpa import restricted_sdpa, sdpa_kernels

CPU = torch.device('cpu')


def test_fused_kernels_only(tiny):
    """Under the restriction the profiler sees only the allowed kernel, and
    the outputs are those of the unrestricted run; a restriction to a back
    end with no kernel for the call is an error, not a fall back to math."""
    _, model = tiny
    with torch.no_grad():
        x = torch.randn(1, 3, 128, 128)
        free = model.backbone.encode(x)
        counts = sdpa_kernels(lambda: model.backbone.encode(x),
                              ['FLASH_ATTENTION'])
        assert set(counts) == {'flash'} and counts['flash'] > 0
        with restricted_sdpa(['FLASH_ATTENTION']):
            fused = model.backbone.encode(x)
        for a, b in zip(free, fused):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
        report = measure_attention(model, CPU, ['FLASH_ATTENTION'],
                                   size=128)
        assert report['encoder'] == counts
        assert set(report['decoder']) == {'flash'}
        # CPU has no memory-efficient kernel: math would be the fall back
        with pytest.raises(GpuCheckError, match='fall back to the math'):
            sdpa_kernels(lambda: model.backbone.encode(x),
                         ['EFFICIENT_ATTENTION'])
        # the math kernel itself is refused even when it is allowed
        with pytest.raises(GpuCheckError, match='math SDPA kernel ran'):
            sdpa_kernels(lambda: model.backbone.encode(x), ['MATH'])


def test_no_attention_call_is_an_error():
    with pytest.raises(GpuCheckError, match='no scaled_dot_product'):
        sdpa_kernels(lambda: torch.ones(2) + 1, ['FLASH_ATTENTION'])
