"""Fixtures of the dissociation tests: real MNIST test images and an untrained network with O(1) logits."""

from __future__ import annotations

import pytest
import torch

from featurelab.init import uniform_fan_in_weights
from featurelab.mnist import load_idx_subset, to_arrays
from tests.helpers import MNIST_DATA

torch.set_num_threads(1)


@pytest.fixture(scope="package")
def mnist_test():
    """300 real MNIST test images (float32 in [0, 1]) and labels."""
    images, labels = load_idx_subset(MNIST_DATA, "t10k")
    x, y = to_arrays(images[:300], labels[:300])
    return torch.as_tensor(x), torch.as_tensor(y)


@pytest.fixture(scope="package")
def net():
    """A random network with weights large enough that the logits are O(1) (not trained: exactness does
    not depend on training)."""
    w = uniform_fan_in_weights([784, 48, 40, 10], torch.Generator().manual_seed(0))
    return tuple(t * 3 for t in w)
