"""The inputs the neck tests fuse: a visual map and two sentences, one of
them with padding."""
from typing import Callable, Tuple

import pytest
import torch
from torch import Tensor


def neck_inputs(cv: int = 8, ct: int = 6) -> Tuple[Tensor, Tensor, Tensor]:
    """Seeded ``2 x cv x 3 x 4`` visual map, ``2 x 5 x ct`` words and the
    ``2 x 5`` mask (the second sentence has three real words)."""
    torch.manual_seed(0)
    visual = torch.randn(2, cv, 3, 4)
    text = torch.randn(2, 5, ct)
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    return visual, text, mask


@pytest.fixture(name='neck_inputs')
def neck_inputs_fixture() -> Callable[..., Tuple[Tensor, Tensor, Tensor]]:
    """:func:`neck_inputs`, for the tests of this folder."""
    return neck_inputs
