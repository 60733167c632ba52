"""Checks at the public boundary: one image type, one sigma scale.

Every public function takes and returns ``float32`` arrays of shape ``(H, W, C)`` with
``C`` in {1, 3} and values in [0, 1]. Noise levels (``sigma``) are always on the 0–255
scale, as published tables use, whatever the bit depth of the file.
"""

from __future__ import annotations

import math

import numpy as np

from denoisekit.errors import InputError

MAX_SIGMA = 100.0
# Noisy images that were never clipped may leave [0, 1] a little; far outside it means a
# wrong scale (0–255 floats, say), which would silently ruin every result.
_LOOSE_RANGE = (-1.0, 2.0)


def check_image(image: np.ndarray, name: str = "image") -> np.ndarray:
    """Return ``image`` as float32 ``(H, W, C)``, or raise :class:`InputError`.

    Accepts ``(H, W)`` (gray), ``(H, W, 1)`` and ``(H, W, 3)``; uint8 and uint16 arrays are
    scaled to [0, 1]; float arrays must be finite and on the [0, 1] scale.
    """
    if not isinstance(image, np.ndarray):
        raise InputError(f"{name} must be a NumPy array, got {type(image).__name__}")
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3):
        raise InputError(f"{name} must have shape (H, W), (H, W, 1) or (H, W, 3); got {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise InputError(f"{name} is empty: shape {image.shape}")
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    if image.dtype == np.uint16:
        return image.astype(np.float32) / 65535.0
    if not np.issubdtype(image.dtype, np.floating):
        raise InputError(f"{name} must be float32/float64 in [0, 1], uint8 or uint16; got dtype {image.dtype}")
    image = image.astype(np.float32, copy=False)
    if not np.isfinite(image).all():
        raise InputError(f"{name} contains NaN or infinite values")
    low, high = float(image.min()), float(image.max())
    if low < _LOOSE_RANGE[0] or high > _LOOSE_RANGE[1]:
        raise InputError(
            f"{name} values span [{low:.3g}, {high:.3g}]; expected the [0, 1] scale (divide 8-bit values by 255)"
        )
    return image


def check_sigma(sigma: float | None, name: str = "sigma") -> float | None:
    """Return ``sigma`` as a float on the 0–255 scale, or raise :class:`InputError`."""
    if sigma is None:
        return None
    try:
        value = float(sigma)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {sigma!r}") from None
    if math.isnan(value) or value <= 0 or value > MAX_SIGMA:
        raise InputError(f"{name}={sigma} is out of range: it is on the 0–255 scale and must be in (0, {MAX_SIGMA:g}]")
    return value
