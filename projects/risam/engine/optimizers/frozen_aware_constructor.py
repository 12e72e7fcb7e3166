"""Build the optimizer from the trainable parameters only."""
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper

from ...registry import OPTIM_WRAPPER_CONSTRUCTORS


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class FrozenAwareOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """``DefaultOptimWrapperConstructor`` that leaves frozen parameters out.

    RISAM freezes its SAM and CLIP encoders (≈ 99 % of the weights). mmengine's
    default constructor hands *every* parameter to the optimizer unless a
    ``paramwise_cfg`` is set, and with one it logs a warning per frozen
    parameter (hundreds for ViT-H). This constructor gives the optimizer only
    ``requires_grad=True`` parameters and logs a single summary line; with a
    non-empty ``paramwise_cfg`` it defers to the default behaviour.

    Use: ``optim_wrapper = dict(constructor='risam.FrozenAwareOptimWrapperConstructor',
    optimizer=dict(type='Adam', lr=1e-4))``.
    """

    def __call__(self, model: nn.Module) -> OptimWrapper:
        if self.paramwise_cfg:
            return super().__call__(model)
        module = model.module if hasattr(model, 'module') else model
        trainable = [p for p in module.parameters() if p.requires_grad]
        frozen = sum(p.numel() for p in module.parameters()
                     if not p.requires_grad)
        print_log(
            f'optimizer: {sum(p.numel() for p in trainable):,} trainable '
            f'parameters; {frozen:,} frozen ones left out', logger='current')
        return super().__call__(_TrainableOnly(trainable))


class _TrainableOnly(nn.Module):
    """A stand-in module whose ``parameters()`` are the given ones."""

    def __init__(self, params: list) -> None:
        super().__init__()
        self._params = params

    def parameters(self, recurse: bool = True):  # noqa: D102
        return iter(self._params)
