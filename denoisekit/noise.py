"""Seeded noise models, for making test pairs and training data.

Levels follow the published conventions: Gaussian ``sigma`` is on the 0–255 scale,
Poisson ``peak`` is the photon count of a white pixel. The benchmark protocol
(:func:`benchmark_noise`) is the one behind the published tables: clean 8-bit image plus
N(0, sigma²), then clipped and rounded to 8 bits.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from denoisekit.errors import InputError
from denoisekit.validation import check_image, check_sigma


def _gaussian(image: np.ndarray, rng: np.random.Generator, sigma: float = 25.0) -> np.ndarray:
    sigma = check_sigma(sigma)
    return image + rng.normal(0.0, sigma / 255.0, image.shape)


def _poisson(image: np.ndarray, rng: np.random.Generator, peak: float = 30.0) -> np.ndarray:
    if not 0 < peak <= 1e6:
        raise InputError(f"peak={peak} is out of range: it must be in (0, 1e6]")
    return rng.poisson(np.clip(image, 0, None) * peak) / peak


def _poisson_gaussian(
    image: np.ndarray, rng: np.random.Generator, peak: float = 30.0, sigma: float = 10.0
) -> np.ndarray:
    return _gaussian(_poisson(image, rng, peak), rng, sigma)


def _salt_pepper(image: np.ndarray, rng: np.random.Generator, amount: float = 0.05) -> np.ndarray:
    if not 0 <= amount <= 1:
        raise InputError(f"amount={amount} is out of range: it is a fraction of pixels in [0, 1]")
    noisy = image.copy()
    hit = rng.random(image.shape[:2]) < amount
    salt = rng.random(image.shape[:2]) < 0.5
    noisy[hit & salt] = 1.0
    noisy[hit & ~salt] = 0.0
    return noisy


def _speckle(image: np.ndarray, rng: np.random.Generator, sigma: float = 25.0) -> np.ndarray:
    # Multiplicative: x * (1 + n), n ~ N(0, (sigma/255)^2).
    sigma = check_sigma(sigma)
    return image * (1.0 + rng.normal(0.0, sigma / 255.0, image.shape))


NOISE_MODELS: dict[str, Callable[..., np.ndarray]] = {
    "gaussian": _gaussian,
    "poisson": _poisson,
    "poisson-gaussian": _poisson_gaussian,
    "salt-pepper": _salt_pepper,
    "speckle": _speckle,
}


def add_noise(
    image: np.ndarray,
    model: str = "gaussian",
    *,
    seed: int | None = 0,
    clip: bool = True,
    quantize: int | None = None,
    **levels: float,
) -> np.ndarray:
    """Return a noisy copy of ``image``.

    Parameters
    ----------
    image : ndarray
        Clean image, ``(H, W)`` or ``(H, W, C)``, on the [0, 1] scale.
    model : str
        One of ``gaussian`` (``sigma``), ``poisson`` (``peak``), ``poisson-gaussian``
        (``peak``, ``sigma``), ``salt-pepper`` (``amount``), ``speckle`` (``sigma``).
    seed : int or None
        Seed of the random generator; the same seed gives the same noise.
    clip : bool
        Clip the result to [0, 1], as a camera or a file would.
    quantize : int or None
        If given (8 or 16), round to that many bits, as saving to a file would.
    **levels
        The model's levels; ``sigma`` is on the 0–255 scale.

    Returns
    -------
    ndarray
        float32 ``(H, W, C)``.

    Examples
    --------
    >>> import numpy as np
    >>> noisy = add_noise(np.full((8, 8), 0.5), "gaussian", sigma=25, seed=0)
    >>> noisy.shape
    (8, 8, 1)
    """
    if model not in NOISE_MODELS:
        raise InputError(f"unknown noise model {model!r}; choose one of {', '.join(NOISE_MODELS)}")
    image = check_image(image)
    rng = np.random.default_rng(seed)
    try:
        noisy = NOISE_MODELS[model](image.astype(np.float64), rng, **levels)
    except TypeError as error:
        raise InputError(f"noise model {model!r}: {error}") from None
    if clip:
        noisy = np.clip(noisy, 0.0, 1.0)
    if quantize is not None:
        noisy = quantize_to_bits(noisy, quantize)
    return noisy.astype(np.float32)


def quantize_to_bits(image: np.ndarray, bits: int) -> np.ndarray:
    """Clip to [0, 1] and round to ``bits`` (8 or 16) as saving to a file would."""
    if bits not in (8, 16):
        raise InputError(f"bit depth must be 8 or 16, got {bits}")
    levels = 2**bits - 1
    return (np.round(np.clip(image, 0.0, 1.0) * levels) / levels).astype(np.float32)


def benchmark_noise(clean: np.ndarray, sigma: float, seed: int, clip: bool = True) -> np.ndarray:
    """The benchmark protocol: clean + N(0, sigma²) on the 0–255 scale.

    ``clip=True`` (the default) clips and rounds to 8 bits, as a real 8-bit file would be.
    ``clip=False`` keeps the float noise unclipped, as the published DnCNN/BM3D tables did
    (MATLAB ``x + sigma/255*randn``): clipping costs BM3D about 0.7 dB on BSD68 at sigma 50.
    """
    if clip:
        return add_noise(clean, "gaussian", sigma=sigma, seed=seed, clip=True, quantize=8)
    return add_noise(clean, "gaussian", sigma=sigma, seed=seed, clip=False)
