"""When to stop a Deep Image Prior fit: plug-ins for :func:`denoisekit.zeroshot.dip.fit`.

DIP reproduces image structure before noise, so its output first improves and then degrades
as it starts fitting the noise. The seed report picked the best iteration by PSNR against the
clean image (:class:`OraclePSNR`), which only a benchmark has. The no-reference rules see the
noisy image and the outputs only:

:class:`SelfValidation` (default)
    Hold a random set of pixels out of the loss (:func:`holdout_mask`; :func:`~.dip.fit`
    takes the rule's ``loss_mask``) and measure the output's MSE to the noisy image on them.
    The held-out noise never reaches the fit, so this is the output's MSE to the clean image
    plus σ², in expectation: a no-reference score (NAS-DIP's reward for a real noisy image) as
    well as a stopping rule. On validation images it fell 0.3 dB from the oracle on average
    and never far, where the variance rule sometimes stopped before any structure was fitted
    (docs/BENCHMARKS.md, "How far the no-reference stop falls from the oracle").
:class:`WindowedVariance`
    ES-WMV of Wang et al., "Early Stopping for Deep Image Prior" (TMLR 2023): the variance of
    the last ``window`` raw outputs around their mean. It falls while the fit settles on the
    image and rises once noise gets in; the pick is its minimum (the latest value within
    ``tolerance`` of it), and the fit stops once the pick has not moved for ``patience``
    iterations. It sees every pixel, but an early plateau of the variance can end the fit
    before the image is fitted.
:class:`Discrepancy`
    Morozov's discrepancy principle: stop the first time the (smoothed) output is as close to
    the noisy image as the noise level says a clean image would be, ``MSE <= factor·σ²``.

Every rule sees each iteration's raw output and the exponential moving average the method
returns, gives one criterion value for the history and figures, and names its best step.

Examples
--------
>>> import torch
>>> rule = WindowedVariance(window=2, patience=1)
>>> for step, level in enumerate([0.0, 1.0, 1.0, 3.0], start=1):
...     _ = rule.update(step, torch.full((1, 1, 2, 2), level), None)
>>> rule.best_step, rule.should_stop(4)
(3, True)
>>> rule.loss_mask is None  # every pixel enters the loss; SelfValidation holds some out
True
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import numpy as np
import torch


class StoppingRule(ABC):
    """A criterion computed every iteration, its best step, and whether to stop.

    Subclasses set ``name`` and ``higher_is_better`` and implement :meth:`value`.
    """

    name = "rule"
    higher_is_better = False
    #: Boolean ``(H, W)``: the pixels the fit's loss may see (None: all of them).
    loss_mask: np.ndarray | None = None

    def __init__(self, patience: int | None = None) -> None:
        self.patience = patience
        self.best_step: int | None = None
        self.best_value = math.nan

    @abstractmethod
    def value(self, step: int, raw: torch.Tensor, smoothed: torch.Tensor | None) -> float:
        """The criterion at ``step`` (NaN while it cannot be computed yet)."""

    def update(self, step: int, raw: torch.Tensor, smoothed: torch.Tensor | None) -> float:
        """Record iteration ``step`` (1-based); returns the criterion value."""
        value = self.value(step, raw, smoothed)
        if not math.isnan(value) and (self.best_step is None or self._better(value)):
            self.best_step, self.best_value = step, value
        return value

    def _better(self, value: float) -> bool:
        return value > self.best_value if self.higher_is_better else value < self.best_value

    def should_stop(self, step: int) -> bool:
        """Whether the fit can end after ``step``: no improvement for ``patience`` iterations."""
        return self.patience is not None and self.best_step is not None and step - self.best_step >= self.patience


class OraclePSNR(StoppingRule):
    """PSNR of the smoothed output against the clean image; for benchmarks, never stops.

    Parameters
    ----------
    reference : Tensor
        The clean image, ``(1, C, H, W)`` in [0, 1], same size as the outputs.
    """

    name = "oracle"
    higher_is_better = True

    def __init__(self, reference: torch.Tensor) -> None:
        super().__init__(patience=None)
        self.reference = reference

    def value(self, step: int, raw: torch.Tensor, smoothed: torch.Tensor | None) -> float:
        output = raw if smoothed is None else smoothed
        error = torch.mean((output.clamp(0, 1) - self.reference) ** 2).item()
        return math.inf if error == 0 else -10.0 * math.log10(error)


class WindowedVariance(StoppingRule):
    """ES-WMV: mean squared deviation of the last ``window`` raw outputs from their mean.

    Parameters
    ----------
    window : int
        Outputs in the moving window (a ring buffer of this many images is kept).
    patience : int
        Stop after this many iterations without a new pick.
    tolerance : float
        Values within this fraction of the minimum so far count as ties, and a tie moves the
        pick forward: on a plateau of the variance the fit still improves (on validation images
        the original rule stopped there, 0.5–1 dB early).
    """

    name = "variance"

    def __init__(self, window: int = 50, patience: int = 300, tolerance: float = 0.05) -> None:
        super().__init__(patience)
        self.window = window
        self.tolerance = tolerance
        self._buffer: torch.Tensor | None = None
        self._filled = 0

    def value(self, step: int, raw: torch.Tensor, smoothed: torch.Tensor | None) -> float:
        if self._buffer is None:
            self._buffer = torch.empty((self.window, *raw.shape[1:]), dtype=raw.dtype, device=raw.device)
        self._buffer[self._filled % self.window] = raw[0]
        self._filled += 1
        if self._filled < self.window:
            return math.nan
        return self._buffer.var(dim=0, unbiased=False).mean().item()

    def update(self, step: int, raw: torch.Tensor, smoothed: torch.Tensor | None) -> float:
        value = self.value(step, raw, smoothed)
        if not math.isnan(value) and (self.best_step is None or value <= self.best_value * (1 + self.tolerance)):
            self.best_step, self.best_value = step, value if self.best_step is None else min(value, self.best_value)
        return value


class Discrepancy(StoppingRule):
    """Morozov's discrepancy principle on the smoothed output.

    The criterion is ``MSE(output, noisy) / σ²``; the pick is the first step where it falls to
    ``factor`` or below, and the fit stops ``patience`` iterations later (0: at once).

    Parameters
    ----------
    noisy : Tensor
        The noisy image ``(1, C, H, W)``.
    sigma : float
        Noise level on the 0–255 scale.
    factor : float
        Fraction of σ² that counts as "fitted".
    patience : int
        Iterations to run on after the pick (useful to see the curve in figures).
    """

    name = "discrepancy"

    def __init__(self, noisy: torch.Tensor, sigma: float, factor: float = 1.0, patience: int = 0) -> None:
        super().__init__(patience)
        self.noisy = noisy
        self.variance = (sigma / 255.0) ** 2
        self.factor = factor

    def value(self, step: int, raw: torch.Tensor, smoothed: torch.Tensor | None) -> float:
        output = raw if smoothed is None else smoothed
        return torch.mean((output - self.noisy) ** 2).item() / self.variance

    def update(self, step: int, raw: torch.Tensor, smoothed: torch.Tensor | None) -> float:
        value = self.value(step, raw, smoothed)
        # The pick is the first crossing, not the minimum (which is the end of an overfit).
        if self.best_step is None and value <= self.factor:
            self.best_step, self.best_value = step, value
        return value


def holdout_mask(height: int, width: int, fraction: float, seed: int = 0) -> np.ndarray:
    """Boolean ``(height, width)``: True on about ``fraction`` of the pixels, drawn at random.

    Examples
    --------
    >>> round(float(holdout_mask(100, 100, 0.2, seed=0).mean()), 1)
    0.2
    """
    return np.random.default_rng(seed).random((height, width)) < fraction


class SelfValidation(StoppingRule):
    """MSE of the smoothed output to the noisy image on pixels held out of the loss.

    The rule's ``loss_mask`` is ``~held_out``, so :func:`~denoisekit.zeroshot.dip.fit` keeps the
    held-out pixels' noise out of the loss; then the criterion estimates
    ``MSE(output, clean) + σ²`` without the clean image. Its minimum is the pick; with
    ``patience`` the fit stops that many iterations after it. The returned image is the fit's
    own, held-out pixels filled in by the network.

    Parameters
    ----------
    noisy : Tensor
        The noisy image ``(1, C, H, W)``.
    held_out : ndarray
        Boolean ``(H, W)``, True on the held-out pixels (:func:`holdout_mask`).
    patience : int, optional
        Stop after this many iterations without a new minimum (None: never).

    Examples
    --------
    >>> noisy = torch.zeros(1, 1, 2, 2)
    >>> rule = SelfValidation(noisy, np.array([[True, False], [False, False]]))
    >>> rule.update(1, None, torch.tensor([[[[0.5, 1.0], [1.0, 1.0]]]]))
    0.25
    """

    name = "self-validation"

    def __init__(self, noisy: torch.Tensor, held_out: np.ndarray, patience: int | None = None) -> None:
        super().__init__(patience)
        if not held_out.any():
            raise ValueError("self-validation needs at least one held-out pixel")
        self.noisy = noisy
        self.loss_mask = ~held_out
        self.weights = torch.from_numpy(held_out.astype(np.float32))[None, None].to(noisy.device)
        self.count = float(held_out.sum()) * noisy.shape[1]

    def value(self, step: int, raw: torch.Tensor, smoothed: torch.Tensor | None) -> float:
        output = raw if smoothed is None else smoothed
        return ((output - self.noisy) ** 2 * self.weights).sum().item() / self.count
