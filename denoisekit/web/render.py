"""Pictures for the page: 8-bit PNG previews any browser shows, and Fourier spectra.

Browsers show neither TIFF nor the extra bits of 16-bit files, so the page shows previews
while the download keeps the real format. Spectra are those of :mod:`denoisekit.figures`
(the CLI's ``--figures``), in the same colour map, and every spectrum of one job shares the
noisy image's scale: denoising then visibly darkens the outskirts, where white noise lives.
"""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from PIL import Image

from denoisekit.figures import centre_crop, fourier_spectrum
from denoisekit.io import encode_image

#: The spectrum is that of the central crop of at most this side, shown at most this wide.
SPECTRUM_CROP = 1024
SPECTRUM_SIDE = 512


def preview_png(image: np.ndarray) -> bytes:
    """An 8-bit PNG of ``image`` (float32 ``(H, W, C)`` in [0, 1]) at full size, for display."""
    return encode_image(image, format="PNG", bit_depth=8)


def spectrum(image: np.ndarray) -> np.ndarray:
    """The log-magnitude spectrum of the central ``SPECTRUM_CROP`` square of ``image``, float64 ``(h, w)``."""
    return fourier_spectrum(centre_crop(image, SPECTRUM_CROP))


def spectrum_png(values: np.ndarray, high: float) -> bytes:
    """A spectrum as a colour PNG on the scale [0, ``high``], at most ``SPECTRUM_SIDE`` wide."""
    colours = colormaps["magma"](np.clip(values / max(high, 1e-12), 0.0, 1.0), bytes=True)[:, :, :3]
    picture = Image.fromarray(colours)
    factor = max(picture.size) / SPECTRUM_SIDE
    if factor > 1:
        size = (max(1, round(picture.width / factor)), max(1, round(picture.height / factor)))
        picture = picture.resize(size, Image.Resampling.BOX)
    return encode_image(np.asarray(picture), format="PNG")
