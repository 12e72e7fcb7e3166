"""One RISAM training step outside mmengine's runner: losses, backward,
Adam, as the runner's optimizer wrapper does them."""
from typing import Dict, Sequence

import torch
from torch import nn

__all__ = ['adam', 'total_loss', 'train_step']


def total_loss(losses: Dict[str, torch.Tensor]) -> torch.Tensor:
    """The sum of the entries whose name contains ``loss`` (mmengine's
    ``parse_losses`` rule; accuracies and the like are left out)."""
    return sum(v for k, v in losses.items() if 'loss' in k)


def adam(model: nn.Module, lr: float = 1e-4) -> torch.optim.Optimizer:
    """Adam over the trainable parameters of ``model``."""
    return torch.optim.Adam([p for p in model.parameters()
                             if p.requires_grad], lr=lr)


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer,
               inputs: torch.Tensor, samples: Sequence) -> float:
    """One step: losses (Eq. 12), backward, optimizer step; returns the
    loss."""
    loss = total_loss(model.loss(inputs, samples))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.detach())
