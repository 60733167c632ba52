"""Small test images made on the fly: no data files needed."""

from __future__ import annotations

import numpy as np
import pytest


def smooth_image(height: int = 64, width: int = 64, channels: int = 1, seed: int = 0) -> np.ndarray:
    """A piecewise-smooth scene (gradient, disc, bars) in [0.1, 0.9], float32 (H, W, C)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    base = 0.3 + 0.4 * x
    base = np.where((x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.08, 0.8, base)
    base = np.where((y > 0.75) & ((x * 8).astype(int) % 2 == 0), 0.15, base)
    tint = rng.uniform(0.85, 1.0, channels)
    return np.clip(base[:, :, None] * tint, 0.1, 0.9).astype(np.float32)


@pytest.fixture
def one_torch_thread():
    """Torch on one thread for the test (the machine's cores are shared), restored after."""
    import torch  # here, not at the top: most test files never need torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def gray() -> np.ndarray:
    return smooth_image(64, 64, 1)


@pytest.fixture
def color() -> np.ndarray:
    return smooth_image(48, 56, 3)
