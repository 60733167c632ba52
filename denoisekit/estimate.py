"""Blind estimation of the level of additive white Gaussian noise, on the 0–255 scale.

Two estimators:

``pca`` (default)
    Weak-texture patch PCA after Liu, Tanaka & Okutomi, "Single-Image Noise Level Estimation
    for Blind Denoising" (IEEE TIP 2013): keep the 7×7 patches whose gradient energy is what
    noise alone would give, and take the smallest eigenvalue of their covariance, iterating
    twice. Two changes: the smallest eigenvalue is corrected for its finite-sample bias (the
    Marchenko–Pastur lower edge), and patches close to black or white, where clipping eats
    the noise, are left out.
``wavelet``
    Donoho's robust estimator: the median absolute finest diagonal (HH) wavelet coefficient
    divided by 0.6745, with the same guard against clipped regions.

``pca`` won on the validation images (Train400); ``benchmarks/noise_estimation.py``
measures both.
"""

from __future__ import annotations

import numpy as np
import pywt
from numpy.lib.stride_tricks import sliding_window_view
from scipy.linalg import null_space
from scipy.special import gammaincinv
from threadpoolctl import threadpool_limits

from denoisekit.errors import InputError
from denoisekit.validation import check_image

ESTIMATORS = ("pca", "wavelet")

_PATCH = 7
_DIM = _PATCH**2 - 1  # the patch mean is left out: see _BASIS
_MAX_PATCHES = 40_000  # per covariance, for speed: 512×512 takes about 0.1 s per channel
_ITERATIONS = 3
# Clipping at 0 and 255 shrinks the noise within about 2 sigma of either end; such regions
# are skipped. Their selection is by the patch mean, which is independent of the rest.
_MARGIN = 2.0
_WAVELET = "sym8"  # least texture in HH of db1, db2, sym4, sym8 on Train400

# Orthonormal basis of the zero-mean patches. Gaussian noise projected on it stays white and
# is independent of the patch mean, so selecting patches by their mean biases nothing.
_BASIS = null_space(np.ones((1, _PATCH**2)))


def _texture_threshold(patch: int, confidence: float) -> float:
    """Liu et al.'s bound on the gradient energy of a noise-only patch, per unit of sigma².

    With central differences (±1/2) inside a p×p patch, the energy is a quadratic form
    n'Dn in the noise with trace(D) = p(p - 2) and rank(D) = p² - 4; it is close to a Gamma
    variable of shape rank/2 and scale 2·trace/rank.
    """
    rank, trace = patch**2 - 4, patch * (patch - 2)
    return float(gammaincinv(rank / 2, confidence) * 2 * trace / rank)


# Liu et al. use a confidence of 1 - 1e-6; 0.999 was the best of 0.99 to 1 - 1e-6 on Train400.
_TAU = _texture_threshold(_PATCH, 0.999)


def _window_sums(values: np.ndarray, height: int, width: int) -> np.ndarray:
    """Sums over every ``height`` × ``width`` window (valid positions only)."""
    s = np.pad(values.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    return s[height:, width:] - s[:-height, width:] - s[height:, :-width] + s[:-height, :-width]


def _noise_variance(patches: np.ndarray) -> float:
    """Smallest eigenvalue of the zero-mean part's covariance, divided by its expected shrinkage.

    For white noise in ``d`` dimensions and ``n`` samples the smallest sample eigenvalue sits
    near σ²(1 - √(d/n))² (Marchenko–Pastur), well below σ² for small images.
    """
    cov = _BASIS.T @ np.cov(patches, rowvar=False) @ _BASIS
    smallest = max(float(np.linalg.eigvalsh(cov)[0]), 0.0)
    return smallest / (1 - np.sqrt(_DIM / len(patches))) ** 2


def _sample(windows: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """The kept patches as rows, evenly thinned (deterministic) to at most _MAX_PATCHES."""
    index = np.flatnonzero(keep)
    rows, cols = np.divmod(index[:: -(-len(index) // _MAX_PATCHES)], keep.shape[1])
    return windows[rows, cols].reshape(-1, _PATCH**2)


def _pca_sigma(channel: np.ndarray) -> float:
    p = _PATCH
    if min(channel.shape) < p or (channel.shape[0] - p + 1) * (channel.shape[1] - p + 1) < 4 * _DIM:
        raise InputError(f"image {channel.shape} is too small for the 'pca' noise estimator (20×20 at least)")
    windows = sliding_window_view(channel, (p, p))
    # Gradient energy (from the differences that fit inside it) and mean of every patch, by box
    # sums: cheap, and thinning only the selected patches keeps the most useful ones.
    grad_h = ((channel[:, 2:] - channel[:, :-2]) / 2) ** 2
    grad_v = ((channel[2:] - channel[:-2]) / 2) ** 2
    texture = _window_sums(grad_h, p, p - 2) + _window_sums(grad_v, p - 2, p)
    means = _window_sums(channel, p, p) / p**2

    variance = _noise_variance(_sample(windows, np.ones(texture.shape, dtype=bool)))
    for _ in range(_ITERATIONS - 1):
        edge = _MARGIN * np.sqrt(variance)
        keep = (texture < _TAU * variance) & (means > edge) & (means < 255 - edge)
        if keep.sum() < 4 * _DIM:  # flat, saturated or noiseless: keep what we have
            break
        variance = _noise_variance(_sample(windows, keep))
    return float(np.sqrt(variance))


def _mad_sigma(coefficients: np.ndarray) -> float:
    return float(np.median(np.abs(coefficients))) / 0.6745


def _wavelet_sigma(channel: np.ndarray) -> float:
    approx, (_, _, diagonal) = pywt.dwt2(channel, _WAVELET, mode="periodization")
    sigma = _mad_sigma(diagonal)
    # The approximation is twice the local mean; coefficients are orthogonal, so for Gaussian
    # noise selecting by it leaves the diagonal's statistics alone.
    edge = _MARGIN * sigma
    keep = (approx > 2 * edge) & (approx < 2 * (255 - edge))
    return _mad_sigma(diagonal[keep]) if keep.any() else sigma


def estimate_sigma(image: np.ndarray, method: str = "pca") -> float:
    """Estimate the standard deviation of additive white Gaussian noise, on the 0–255 scale.

    Parameters
    ----------
    image : ndarray
        Noisy image, ``(H, W)`` or ``(H, W, C)`` on the [0, 1] scale (or uint8/uint16). The
        ``pca`` method needs at least about 20×20 pixels.
    method : str
        ``pca`` (weak-texture patch PCA: the more accurate, the default) or ``wavelet``
        (Donoho's median estimator: 10–40 times faster, biased up by texture at low sigma).

    Returns
    -------
    float
        Sigma on the 0–255 scale; the mean of the channels' estimates for colour images.

    Examples
    --------
    >>> import numpy as np
    >>> from denoisekit.noise import benchmark_noise
    >>> noisy = benchmark_noise(np.full((64, 64), 0.5), sigma=20, seed=0)
    >>> round(estimate_sigma(noisy))
    20
    """
    if method not in ESTIMATORS:
        raise InputError(f"unknown noise estimator {method!r}; choose one of {', '.join(ESTIMATORS)}")
    image = check_image(image)
    estimate = _pca_sigma if method == "pca" else _wavelet_sigma
    # The covariances are small: BLAS threads only add overhead, and stall badly on a busy machine.
    with threadpool_limits(1, user_api="blas"):
        sigmas = [estimate(image[:, :, c].astype(np.float64) * 255) for c in range(image.shape[2])]
    # Mean, not median: one sigma then drives the denoiser for every channel, so the average
    # level is the target. (On colour validation crops the two differed by < 0.05.)
    return float(np.mean(sigmas))
