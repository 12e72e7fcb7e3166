"""projects.risam.profiling.stack: torchvision built for torch's CUDA."""
from types import SimpleNamespace

import pytest

from projects.risam.profiling.stack import (
    StackMismatch,
    check_torchvision_cuda,
    cuda_major_minor,
)


def _mods(torch_cuda, tv_cuda):
    torch = SimpleNamespace(__version__='2.11.0+cu128',
                            version=SimpleNamespace(cuda=torch_cuda))
    tv = SimpleNamespace(__version__='0.26.0',
                         version=SimpleNamespace(cuda=tv_cuda))
    return torch, tv


def test_cuda_versions_as_torch_and_torchvision_spell_them():
    assert cuda_major_minor('12.8') == '12.8'
    assert cuda_major_minor(12080) == '12.8'  # torchvision: major x 1000
    assert cuda_major_minor(13000) == '13.0'
    assert cuda_major_minor(None) is None
    assert cuda_major_minor(-1) is None  # torchvision without its ops


def test_a_torchvision_for_another_cuda_stops():
    assert check_torchvision_cuda(*_mods('12.8', 12080))['torch_cuda'] == '12.8'
    assert check_torchvision_cuda(*_mods(None, None))['torchvision_cuda'] is None
    with pytest.raises(StackMismatch, match=r'^torchvision 0.26.0 is built '
                       r'for CUDA 12.6, torch 2.11.0\+cu128 for CUDA 12.8'):
        check_torchvision_cuda(*_mods('12.8', 12060))
    with pytest.raises(StackMismatch, match='CUDA None'):
        check_torchvision_cuda(*_mods('12.8', None))
