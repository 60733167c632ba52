"""Neighbor2Neighbor (Huang et al., CVPR 2021): learn from single noisy images by sub-sampling
each one into two half-resolution images whose pixels are neighbours in the original, so they
show (almost) the same signal with independent noise: a Noise2Noise pair from one shot.

The regulariser (weight ``gamma``) asks the network's output on the sub-sampled input to
differ from the target as much as the same sub-samples of its output on the full image do,
which corrects for the neighbours not being exactly the same pixel.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from denoisekit.training.objectives import NoiseSpec, SelfSupervised

# Pixels of a 2×2 cell, numbered 0 (top left), 1 (top right), 2 (bottom left), 3 (bottom right),
# and the two cell members adjacent (sharing a side) to each.
ADJACENT = np.array([[1, 2], [0, 3], [0, 3], [1, 2]])


def neighbour_indices(batch: int, height: int, width: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """For every 2×2 cell of ``height × width``, a random pixel and a random one adjacent to it."""
    first = rng.integers(4, size=(batch, height // 2, width // 2))
    second = ADJACENT[first, rng.integers(2, size=first.shape)]
    return first, second


def subsample(images: torch.Tensor, index: np.ndarray) -> torch.Tensor:
    """The half-resolution image taking, in each 2×2 cell, pixel ``index`` (``(B, H/2, W/2)``, 0–3)."""
    b, c, h, w = images.shape
    cells = images[..., : h - h % 2, : w - w % 2].reshape(b, c, h // 2, 2, w // 2, 2)
    cells = cells.permute(0, 1, 2, 4, 3, 5).reshape(b, c, h // 2, w // 2, 4)
    pick = torch.from_numpy(index).to(images.device)[:, None, :, :, None].expand(b, c, -1, -1, 1)
    return cells.gather(-1, pick).squeeze(-1)


class Neighbor2Neighbor(SelfSupervised):
    """``‖f(g₁y) − g₂y‖² + γ ‖f(g₁y) − g₂y − (g₁f(y) − g₂f(y))‖²`` with ``f(y)`` held fixed.

    Parameters
    ----------
    gamma : float
        Weight of the regulariser (the paper's γ; 2 for Gaussian noise).
    """

    def __init__(self, noise: NoiseSpec | None = None, loss: str = "mse", gamma: float = 2.0) -> None:
        super().__init__(noise, loss)
        self.gamma = gamma

    def loss_on(self, model: nn.Module, noisy: list[torch.Tensor], rng: np.random.Generator) -> torch.Tensor:
        (images,) = noisy
        first, second = neighbour_indices(len(images), *images.shape[-2:], rng)
        with torch.no_grad():
            full = model(images)
        source, target = subsample(images, first), subsample(images, second)
        out = model(source)
        gap = subsample(full, first) - subsample(full, second)
        return self.loss(out, target) + self.gamma * self.loss(out - target, gap)
