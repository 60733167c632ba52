"""Image quality against a clean reference: MSE, PSNR and SSIM, as published tables compute them."""

from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity

from denoisekit.errors import InputError
from denoisekit.validation import check_image


def _pair(reference: np.ndarray, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    reference = check_image(reference, "reference")
    image = check_image(image, "image")
    if reference.shape != image.shape:
        raise InputError(f"reference has shape {reference.shape} but image has shape {image.shape}")
    return reference.astype(np.float64), image.astype(np.float64)


def mse(reference: np.ndarray, image: np.ndarray) -> float:
    """Mean squared error on the [0, 1] scale."""
    reference, image = _pair(reference, image)
    return float(np.mean((reference - image) ** 2))


def psnr(reference: np.ndarray, image: np.ndarray, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB, ``10 log10(data_range² / MSE)``; ``inf`` for identical images.

    Examples
    --------
    >>> import numpy as np
    >>> round(psnr(np.zeros((4, 4)), np.full((4, 4), 0.1)), 2)
    20.0
    """
    error = mse(reference, image)
    return float("inf") if error == 0 else float(10 * np.log10(data_range**2 / error))


def ssim(reference: np.ndarray, image: np.ndarray, data_range: float = 1.0) -> float:
    """Structural similarity with the standard definition of Wang et al. (2004).

    Gaussian window (σ = 1.5), K1 = 0.01, K2 = 0.03, population covariances and an explicit
    ``data_range``; colour images average the per-channel SSIM.
    """
    reference, image = _pair(reference, image)
    if min(reference.shape[:2]) < 7:
        raise InputError(f"SSIM needs images of at least 7×7 pixels, got {reference.shape[:2]}")
    return float(
        structural_similarity(
            reference,
            image,
            data_range=data_range,
            channel_axis=-1,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
    )
