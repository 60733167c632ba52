"""Training the blind-spot network (:mod:`denoisekit.models.blindspot`): since no output pixel
sees its own input, the noisy image itself is the target, on every pixel (Laine et al. 2019).

With the posterior-mean head the loss is instead the negative log-likelihood of the noisy
pixel under the predicted prior blurred by the known noise, ``N(μ, Σ + σ² I)``, which teaches
the network a calibrated prior for the Bayesian refinement at inference.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from denoisekit.errors import InputError
from denoisekit.models.blindspot import prior_covariance
from denoisekit.training.objectives import NoiseSpec, SelfSupervised


class BlindSpot(SelfSupervised):
    """The blind-spot objective.

    Parameters
    ----------
    sigma : float, optional
        The noise level (0–255 scale) of the data, needed by the posterior-mean head only.
    """

    def __init__(self, noise: NoiseSpec | None = None, loss: str = "mse", sigma: float | None = None) -> None:
        super().__init__(noise, loss)
        self.sigma = sigma

    def loss_on(self, model: nn.Module, noisy: list[torch.Tensor], rng: np.random.Generator) -> torch.Tensor:
        (images,) = noisy
        if not hasattr(model, "heads"):
            raise InputError(f"--method blindspot needs the blindspot model, not {model.model_name!r}")
        out = model.heads(images)
        channels = images.shape[1]
        if not model.posterior:
            return self.loss(out, images)
        if self.sigma is None:
            raise InputError("the posterior-mean blind-spot network needs the noise level: pass --sigma")
        covariance = prior_covariance(out, channels)
        noise = (self.sigma / 255.0) ** 2 * torch.eye(channels, device=images.device, dtype=images.dtype)
        total = covariance + noise
        residual = (images - out[:, :channels]).permute(0, 2, 3, 1).unsqueeze(-1)
        mahalanobis = (residual.transpose(-1, -2) @ torch.linalg.solve(total, residual)).squeeze((-1, -2))
        return 0.5 * (mahalanobis + torch.logdet(total)).mean()
