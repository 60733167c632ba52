"""Noise2Void (Krull, Buchholz & Jug, CVPR 2019): learn from single noisy images by hiding a few
pixels from the network and asking it to predict them from their surroundings. Pixel-wise
independent noise cannot be predicted from neighbours, so the network learns the signal.

Masking is stratified (one pixel per grid cell, so masked pixels are spread evenly) and each
masked pixel is replaced by a random *other* pixel of its 5×5 neighbourhood; the loss counts
the masked pixels only. Any registered network works.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from denoisekit.errors import InputError
from denoisekit.training.objectives import NoiseSpec, SelfSupervised

#: The 24 offsets of a 5×5 neighbourhood, the centre excluded.
NEIGHBOUR_OFFSETS = np.array([(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if (dy, dx) != (0, 0)])


def stratified_mask(batch: int, height: int, width: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean masks ``(batch, height, width)`` with one random pixel per ``s×s`` cell, ``s ≈ 1/√fraction``."""
    cell = max(1, round(1 / math.sqrt(fraction)))
    rows, cols = math.ceil(height / cell), math.ceil(width / cell)
    ys = np.arange(rows)[:, None] * cell + rng.integers(cell, size=(batch, rows, cols))
    xs = np.arange(cols)[None, :] * cell + rng.integers(cell, size=(batch, rows, cols))
    inside = (ys < height) & (xs < width)  # cells cut by the border may miss
    mask = np.zeros((batch, height, width), bool)
    index = np.broadcast_to(np.arange(batch)[:, None, None], ys.shape)
    mask[index[inside], ys[inside], xs[inside]] = True
    return mask


def replace_with_neighbours(images: torch.Tensor, mask: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
    """A copy of ``images`` ``(B, C, H, W)`` in which each masked pixel (all channels) holds a random
    other pixel of its 5×5 neighbourhood. Offsets that leave the image are mirrored, which keeps
    them inside (sides ≥ 3) and never zero, so a pixel is never replaced by itself."""
    b, y, x = np.nonzero(mask)
    dy, dx = NEIGHBOUR_OFFSETS[rng.integers(len(NEIGHBOUR_OFFSETS), size=len(b))].T
    height, width = mask.shape[1:]
    dy = np.where((y + dy < 0) | (y + dy >= height), -dy, dy)
    dx = np.where((x + dx < 0) | (x + dx >= width), -dx, dx)
    out = images.clone()
    to = torch.from_numpy
    out[to(b), :, to(y), to(x)] = images[to(b), :, to(y + dy), to(x + dx)]
    return out


class Noise2Void(SelfSupervised):
    """The blind-spot objective by masking: predict each masked pixel's noisy value from a
    neighbourhood in which it was replaced.

    Parameters
    ----------
    fraction : float
        Share of pixels masked per patch (N2V uses about 0.2–2%).
    """

    def __init__(self, noise: NoiseSpec | None = None, loss: str = "mse", fraction: float = 0.01) -> None:
        super().__init__(noise, loss)
        if not 0.001 <= fraction <= 0.25:
            raise InputError(f"masked fraction {fraction} must lie within 0.001-0.25 (N2V uses about 0.002-0.02)")
        self.fraction = fraction

    def loss_on(self, model: nn.Module, noisy: list[torch.Tensor], rng: np.random.Generator) -> torch.Tensor:
        (images,) = noisy
        batch, _, height, width = images.shape
        mask = stratified_mask(batch, height, width, self.fraction, rng)
        out = model(replace_with_neighbours(images, mask, rng))
        where = torch.from_numpy(mask).to(images.device)[:, None].expand_as(images)
        return self.loss(out[where], images[where])
