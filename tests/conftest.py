"""Shared pytest set-up: fixed seeds and a registry import for every test."""
import random

import numpy as np
import pytest
import torch

import projects.risam  # noqa: F401  (registers the plugin's names)


@pytest.fixture(autouse=True)
def _fixed_seeds():
    """Every test starts from the same random state."""
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield
