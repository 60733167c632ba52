"""Figures people would rather look at than read: side-by-side crops, curves, spectra."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator
from PIL import Image

if TYPE_CHECKING:
    from denoisekit.zeroshot.history import FitHistory, RunHistory


def centre_crop(image: np.ndarray, size: int) -> np.ndarray:
    """The central ``size``×``size`` part of ``image`` (all of it along a shorter side)."""
    top = max(0, (image.shape[0] - size) // 2)
    left = max(0, (image.shape[1] - size) // 2)
    return image[top : top + size, left : left + size]


def side_by_side(panels: Sequence[tuple[str, np.ndarray]], path: str | Path, columns: int = 4) -> Path:
    """Save images (``(H, W, C)`` in [0, 1]) in a grid, each titled, as a PNG."""
    rows = -(-len(panels) // columns)
    columns = min(columns, len(panels))
    figure, axes = plt.subplots(rows, columns, figsize=(2.2 * columns, 2.4 * rows), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, (title, image) in zip(axes.flat, panels, strict=False):
        image = np.clip(image, 0, 1)
        if image.shape[2] == 1:
            axis.imshow(image[:, :, 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        else:
            axis.imshow(image, interpolation="nearest")
        axis.set_title(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=60)  # ~1 figure pixel per image pixel: small files, no resampling blur
    plt.close(figure)
    # Matplotlib writes RGBA; the alpha plane is constant, so dropping it shrinks the file by a third.
    Image.open(path).convert("RGB").save(path, optimize=True)
    return Path(path)


def _save_rgb(figure: plt.Figure, path: str | Path, dpi: int) -> Path:
    figure.savefig(path, dpi=dpi)
    plt.close(figure)
    Image.open(path).convert("RGB").save(path, optimize=True)
    return Path(path)


def fourier_spectrum(image: np.ndarray) -> np.ndarray:
    """Log-magnitude Fourier spectrum of an image's luminance, zero frequency at the centre.

    ``log(1 + |FFT(gray - mean)|)``: white noise gives a flat floor over all frequencies, image
    structure a bright centre and axes, so a denoiser's output should keep the centre and lower
    the floor.

    Parameters
    ----------
    image : ndarray
        ``(H, W)`` or ``(H, W, C)``; colour channels are averaged.

    Returns
    -------
    ndarray
        float64 ``(H, W)``.

    Examples
    --------
    >>> spectrum = fourier_spectrum(np.ones((8, 8, 3)))
    >>> spectrum.shape, float(spectrum.max())
    ((8, 8), 0.0)
    """
    gray = np.asarray(image, dtype=np.float64)
    if gray.ndim == 3:
        gray = gray.mean(axis=2)
    return np.log1p(np.abs(np.fft.fftshift(np.fft.fft2(gray - gray.mean()))))


def spectra_figure(panels: Sequence[tuple[str, np.ndarray]], path: str | Path) -> Path:
    """Save the log-magnitude spectra of images (``(H, W, C)``) side by side, on one colour scale.

    Examples
    --------
    >>> import tempfile, os
    >>> rng = np.random.default_rng(0)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = spectra_figure([("noise", rng.random((32, 32, 1)))], os.path.join(folder, "s.png"))
    ...     path.exists()
    True
    """
    spectra = [(title, fourier_spectrum(image)) for title, image in panels]
    high = max(float(s.max()) for _, s in spectra)
    figure, axes = plt.subplots(1, len(spectra), figsize=(2.6 * len(spectra), 2.8), squeeze=False)
    for axis, (title, spectrum) in zip(axes[0], spectra, strict=True):
        shown = axis.imshow(spectrum, cmap="magma", vmin=0, vmax=high)
        axis.set_title(title, fontsize=9)
        axis.axis("off")
    figure.colorbar(shown, ax=list(axes[0]), fraction=0.02, label="log(1 + |FFT|)")
    return _save_rgb(figure, path, dpi=80)


def fit_curve_figure(history: FitHistory, path: str | Path, title: str = "") -> Path:
    """PSNR per iteration (or the loss, without a reference) and the stopping criterion.

    The criterion is drawn on a second, logarithmic axis; dashed lines mark the iteration the
    no-reference rule picked and, with a reference, the oracle-best one.
    """
    steps = np.arange(1, history.iterations + 1)
    figure, left = plt.subplots(figsize=(6.4, 3.6))
    if history.psnr:
        left.plot(steps, history.psnr, color="tab:blue", lw=1.2, label="PSNR (oracle)")
        left.set_ylabel("PSNR against the clean image (dB)")
        low = np.nanpercentile(history.psnr, 5)
        left.set_ylim(low, max(history.psnr) + 0.3)
    else:
        left.semilogy(steps, history.loss, color="tab:blue", lw=1.2, label="loss (MSE to noisy)")
        left.set_ylabel("loss")
    left.set_xlabel("iteration")
    if history.criterion:
        right = left.twinx()
        right.semilogy(steps, history.criterion, color="tab:orange", lw=1.0, label=f"{history.rule} criterion")
        right.set_ylabel(f"{history.rule} criterion (no reference)", color="tab:orange")
    marks = [(history.picked, f"{history.rule} pick", "tab:red")]
    if history.best is not None:
        marks.append((history.best, "oracle best", "tab:green"))
    for step, label, colour in marks:
        if step:
            left.axvline(step, color=colour, ls="--", lw=1, label=f"{label} ({step})")
    left.legend(loc="lower right", fontsize=8)
    left.set_title(title or history.summary(), fontsize=8, wrap=True)
    figure.tight_layout()
    return _save_rgb(figure, path, dpi=90)


def zero_shot_figures(
    folder: str | Path,
    stem: str,
    noisy: np.ndarray,
    output: np.ndarray,
    reference: np.ndarray | None = None,
    history: RunHistory | None = None,
    crop: int = 128,
) -> list[Path]:
    """Write the figures of one zero-shot run into ``folder``; returns their paths.

    ``{stem}_spectra.png``: spectra of noisy / output (/ clean). ``{stem}_images.png``: centre
    crops, one image pixel per figure pixel, of noisy, the output, each repetition's last (and,
    with a reference, best) output, the history's other panels, and the clean image.
    ``{stem}_curve.png`` (one per repetition, ``_curve2`` …): :func:`fit_curve_figure`, when the
    method recorded a history.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    spectra = [("noisy", noisy), ("output", output)] + ([("clean", reference)] if reference is not None else [])
    paths = [spectra_figure(spectra, folder / f"{stem}_spectra.png")]
    panels = [("noisy", noisy), ("output", output)]
    for i, fit in enumerate(history.fits if history else []):
        tag = f" #{i + 1}" if len(history.fits) > 1 else ""
        if "best" in fit.images:
            panels.append((f"best{tag} ({fit.best})", fit.images["best"]))
        panels.append((f"last{tag} ({fit.iterations})", fit.images["last"]))
        suffix = str(i + 1) if i else ""
        paths.append(fit_curve_figure(fit, folder / f"{stem}_curve{suffix}.png"))
    panels += list(history.panels.items()) if history else []
    if reference is not None:
        panels.append(("clean", reference))
    paths.append(side_by_side([(t, centre_crop(p, crop)) for t, p in panels], folder / f"{stem}_images.png"))
    return paths


def reward_curve_figure(curves: Mapping[str, Sequence[float]], path: str | Path, ylabel: str = "reward") -> Path:
    """Reward per trial (dots) and the running best (line) of one or more searches, on one axis.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = reward_curve_figure({"rl": [1, 3, 2], "random": [2, 1, 1]}, os.path.join(folder, "r.png"))
    ...     path.exists()
    True
    """
    figure, axis = plt.subplots(figsize=(6.4, 3.6))
    for (name, rewards), colour in zip(curves.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False):
        trials = np.arange(1, len(rewards) + 1)
        axis.scatter(trials, rewards, s=10, color=colour, alpha=0.5, label=f"{name}: reward per trial")
        axis.plot(trials, np.maximum.accumulate(rewards), color=colour, lw=1.5, label=f"{name}: best so far")
    axis.set_xlabel("trial")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_ylabel(ylabel)
    axis.legend(loc="best", fontsize=8)
    figure.tight_layout()
    return _save_rgb(figure, path, dpi=90)
