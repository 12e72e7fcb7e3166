"""The GPU check's software stack: torch and torchvision, and whether
torchvision was built for torch's CUDA.

A torchvision wheel built for another CUDA than the machine's torch loads,
or fails, far from the cause; the check compares the two first
(:func:`check_torchvision_cuda`) and stops in one line.
"""
from types import ModuleType
from typing import Optional, Union

from .errors import GpuCheckError

__all__ = ['StackMismatch', 'check_torchvision_cuda', 'cuda_major_minor',
           'stack_versions']


class StackMismatch(GpuCheckError):
    """torch and torchvision disagree (CUDA build), in one line."""


def cuda_major_minor(version: Union[None, int, str]) -> Optional[str]:
    """``'MAJOR.MINOR'`` of a CUDA version as torch (``'12.8'``) or
    torchvision (``12080``: major x 1000 + minor x 10) spell it; None
    for a build without CUDA (None, or torchvision's -1)."""
    if version is None or str(version) in ('', '-1'):
        return None
    text = str(version)
    if '.' in text:
        major, minor = text.split('.')[:2]
        return f'{int(major)}.{int(minor)}'
    number = int(text)
    return f'{number // 1000}.{number % 1000 // 10}'


def stack_versions(torch_mod: ModuleType,
                   torchvision_mod: ModuleType) -> dict:
    """``{torch, torchvision, torch_cuda, torchvision_cuda}``; the CUDA
    versions as ``'MAJOR.MINOR'`` or None (no CUDA build)."""
    return dict(
        torch=str(torch_mod.__version__),
        torchvision=str(torchvision_mod.__version__),
        torch_cuda=cuda_major_minor(torch_mod.version.cuda),
        torchvision_cuda=cuda_major_minor(
            getattr(torchvision_mod.version, 'cuda', None)))


def check_torchvision_cuda(torch_mod: ModuleType,
                           torchvision_mod: ModuleType) -> dict:
    """:func:`stack_versions`, after checking that torchvision was built
    for torch's CUDA (both without CUDA passes).

    Raises:
        StackMismatch: the two CUDA versions differ.
    """
    versions = stack_versions(torch_mod, torchvision_mod)
    if versions['torch_cuda'] != versions['torchvision_cuda']:
        raise StackMismatch(
            f'torchvision {versions["torchvision"]} is built for CUDA '
            f'{versions["torchvision_cuda"]}, torch {versions["torch"]} for '
            f'CUDA {versions["torch_cuda"]}: install the torchvision wheel '
            "of this torch (docs/gpu_check.md)")
    return versions
