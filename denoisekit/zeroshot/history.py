"""What a zero-shot fit did, iteration by iteration: plain NumPy, no torch, so figures and the
CLI can read it without importing the fitting code.

Examples
--------
>>> h = FitHistory(rule="variance")
>>> h.loss += [0.2, 0.1]
>>> h.iterations
2
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class FitHistory:
    """Per-iteration record of one fit (one repetition).

    Attributes
    ----------
    rule : str
        Name of the no-reference stopping rule.
    loss : list of float
        Training loss (MSE to the noisy image) per iteration.
    criterion : list of float
        The rule's criterion per iteration (NaN until it has enough outputs).
    psnr : list of float
        PSNR of the output against the clean reference per iteration (oracle mode only).
    picked : int or None
        Iteration (1-based) the rule picked: its output is what the method returns.
    stopped_at : int or None
        Iteration at which the rule ended the fit (in oracle mode: would have ended it; the
        fit runs on to log PSNR, but the pick is frozen there). None: it ran the whole budget.
    best, best_psnr, picked_psnr, last_psnr
        Oracle mode: the best iteration and the PSNR at the best, picked and last iterations.
    backtracks : int
        Times the fit diverged and was restarted from its last checkpoint.
    seconds : float
        Wall time of the fit.
    images : dict of str to ndarray
        ``picked``, ``last`` and (oracle mode) ``best`` outputs, float32 ``(H, W, C)``.
    seed : int
        Seed of the network initialisation and the input code.
    """

    rule: str
    loss: list[float] = field(default_factory=list)
    criterion: list[float] = field(default_factory=list)
    psnr: list[float] = field(default_factory=list)
    picked: int | None = None
    stopped_at: int | None = None
    best: int | None = None
    best_psnr: float | None = None
    picked_psnr: float | None = None
    last_psnr: float | None = None
    backtracks: int = 0
    seconds: float = 0.0
    images: dict[str, np.ndarray] = field(default_factory=dict)
    seed: int = 0

    @property
    def iterations(self) -> int:
        """Iterations actually run."""
        return len(self.loss)

    @property
    def gap(self) -> float | None:
        """How far the no-reference pick falls below the oracle best, in dB (oracle mode)."""
        if self.best_psnr is None or self.picked_psnr is None:
            return None
        return self.best_psnr - self.picked_psnr

    def summary(self) -> str:
        """One line: iterations, pick and, with a reference, best/picked/last PSNR."""
        line = f"{self.rule} rule picked iteration {self.picked} of {self.iterations}"
        if self.stopped_at is not None:
            line += f" (the rule stops at {self.stopped_at})"
        if self.best_psnr is not None:
            line += (
                f"; oracle best {self.best_psnr:.2f} dB at {self.best}, picked {self.picked_psnr:.2f} dB"
                f" (gap {self.gap:.2f} dB), last {self.last_psnr:.2f} dB"
            )
        return line


@dataclass
class RunHistory:
    """All repetitions of one zero-shot run, filled in by the method when the caller passes one.

    Examples
    --------
    >>> run = RunHistory()
    >>> run.fits.append(FitHistory(rule="variance", picked=3))
    >>> run.fits[0].picked
    3
    """

    method: str = ""
    fits: list[FitHistory] = field(default_factory=list)
    #: The image the method returned (the mean of the repetitions' picks when there are several).
    output: np.ndarray | None = None
    #: More ``(H, W, C)`` images for the figures, by title: a blend's members and weights.
    panels: dict[str, np.ndarray] = field(default_factory=dict)
    #: Summary lines of methods that keep no per-iteration record (``zs-blend``).
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line per repetition, then the notes."""
        lines = [f"repetition {i + 1}: {fit.summary()}" for i, fit in enumerate(self.fits)]
        return "\n".join(lines + self.notes)
