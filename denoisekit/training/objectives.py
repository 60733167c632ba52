"""How a batch becomes a loss: ``objective(model, arrays, rng, device) -> loss``.

Supervised training and the synthetic noise every objective can draw live here; the
self-supervised objectives have a module each (``noise2noise``, ``noise2void``, ``blindspot``,
``neighbor2neighbor``) and plug into the same trainer the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from denoisekit.errors import InputError
from denoisekit.noise import NOISE_MODELS


def binary_cross_entropy(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """For models whose output is a probability, such as the CAE's sigmoid: the Keras tutorial
    trains it so, and under MSE its ReLUs die and the output collapses to the mean image."""
    if output.min() < 0 or output.max() > 1:
        raise InputError("loss bce needs outputs in [0, 1] (a model ending in a sigmoid, such as cae): use mse or l1")
    return F.binary_cross_entropy(output, target.clamp(0, 1))


LOSSES = {"mse": F.mse_loss, "l1": F.l1_loss, "bce": binary_cross_entropy}


@dataclass
class NoiseSpec:
    """Synthetic noise drawn per patch: ``model`` from :mod:`denoisekit.noise`, Gaussian ``sigma``
    uniform in ``[low, high]`` (0–255 scale) or the model's other ``levels`` (``peak``, ``amount``).

    Noisy patches are clipped and rounded to 8 bits, like real files and the benchmark's default
    protocol, except an ``unclipped`` share of them (drawn per patch), which keep float noise
    as the published tables' protocol does.
    """

    model: str = "gaussian"
    sigma: tuple[float, float] = (25.0, 25.0)
    levels: dict[str, float] = field(default_factory=dict)
    unclipped: float = 0.0

    def __post_init__(self) -> None:
        if self.model not in NOISE_MODELS:
            raise InputError(f"unknown noise model {self.model!r}; choose one of: {', '.join(NOISE_MODELS)}")
        low, high = self.sigma
        if not 0 <= low <= high <= 255:
            raise InputError(f"sigma range {low}-{high} is not within 0-255 (0–255 scale)")
        if not 0 <= self.unclipped <= 1:
            raise InputError(f"unclipped share {self.unclipped} is not within 0-1")

    def apply(self, clean: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Noisy copies of a batch ``(B, C, p, p)`` and each patch's noise level (0–255 scale)."""
        if self.model == "gaussian":
            sigma = rng.uniform(*self.sigma, size=len(clean)).astype(np.float32)
            noisy = clean + rng.standard_normal(clean.shape, np.float32) * (sigma / 255.0)[:, None, None, None]
        else:
            function = NOISE_MODELS[self.model]
            levels = dict(self.levels)
            noisy = np.stack([function(patch, rng, **levels) for patch in clean]).astype(np.float32)
        if self.unclipped < 1:
            clipped = np.round(np.clip(noisy, 0.0, 1.0) * 255.0) / 255.0
            if self.unclipped > 0:  # no extra draw otherwise, so all-clipped runs resume to the bit
                keep = rng.random(len(clean)) < self.unclipped
                clipped[keep] = noisy[keep]
            noisy = clipped
        if self.model != "gaussian":  # the effective level, which is what an estimator sees
            sigma = effective_sigma(noisy, clean)
        return noisy.astype(np.float32), sigma


def effective_sigma(noisy: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """Each patch's noise level (0–255 scale) as an estimator would see it: the std of noisy − clean."""
    return ((noisy - clean).reshape(len(clean), -1).std(axis=1) * 255.0).astype(np.float32)


def loss_function(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The loss registered as ``name`` in :data:`LOSSES`, or InputError."""
    if name not in LOSSES:
        raise InputError(f"unknown loss {name!r}; choose one of: {', '.join(LOSSES)}")
    return LOSSES[name]


class Supervised:
    """Noisy input, clean target. The noisy input is either synthesised from clean patches on
    the fly (``noise``) or read from a paired folder (arrays ``[noisy, clean]``)."""

    def __init__(self, noise: NoiseSpec | None, loss: str = "mse") -> None:
        self.noise, self.loss = noise, loss_function(loss)

    def __call__(
        self, model: nn.Module, arrays: list[np.ndarray], rng: np.random.Generator, device: str
    ) -> torch.Tensor:
        if len(arrays) == 2:
            noisy, clean = arrays
            sigma = effective_sigma(noisy, clean)
        else:
            (clean,) = arrays
            noisy, sigma = self.noise.apply(clean, rng)
        inputs, targets = torch.from_numpy(noisy).to(device), torch.from_numpy(clean).to(device)
        return self.loss(model(inputs, torch.from_numpy(sigma).to(device)), targets)


class SelfSupervised:
    """Base of the objectives that never see a clean image.

    Each sample brings ``views`` noisy images of one scene: read from the data (real noisy
    images), or, given ``noise``, drawn on the fly from clean patches, for benchmarks in
    which the clean images must never reach the loss. Subclasses define :meth:`loss_on`.
    """

    views = 1

    def __init__(self, noise: NoiseSpec | None = None, loss: str = "mse") -> None:
        self.noise, self.loss = noise, loss_function(loss)

    def __call__(
        self, model: nn.Module, arrays: list[np.ndarray], rng: np.random.Generator, device: str
    ) -> torch.Tensor:
        if self.noise is not None:
            (clean,) = arrays
            arrays = [self.noise.apply(clean, rng)[0] for _ in range(self.views)]
        return self.loss_on(model, [torch.from_numpy(a).to(device) for a in arrays], rng)

    def loss_on(self, model: nn.Module, noisy: list[torch.Tensor], rng: np.random.Generator) -> torch.Tensor:
        raise NotImplementedError
