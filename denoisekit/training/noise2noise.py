"""Noise2Noise (Lehtinen et al., ICML 2018): learn from pairs of independent noisy shots of the
same scene. With zero-mean noise, the expected noisy target equals the clean image, so the
MSE to a second noisy shot has the same minimiser as the MSE to the clean image.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from denoisekit.training.objectives import SelfSupervised


class Noise2Noise(SelfSupervised):
    """One shot is the input, the other the target; which is which is drawn per sample, so both
    shots of a pair serve as input."""

    views = 2

    def loss_on(self, model: nn.Module, noisy: list[torch.Tensor], rng: np.random.Generator) -> torch.Tensor:
        first, second = noisy
        swap = torch.from_numpy(rng.random(len(first)) < 0.5).to(first.device).view(-1, 1, 1, 1)
        inputs, targets = torch.where(swap, second, first), torch.where(swap, first, second)
        return self.loss(model(inputs), targets)
