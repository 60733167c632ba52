"""Classical denoisers: box, median and Gaussian filters, and strong references from well-kept
libraries (non-local means, total variation and wavelets from scikit-image; BM3D from the
``bm3d`` package, an optional extra because its licence is non-commercial).

Each parameter defaults from the noise level. The defaults were tuned on validation images
(Train400, never the test sets) by ``benchmarks/tune_classical.py``; the tables below are its
output, interpolated linearly in sigma.
"""

from __future__ import annotations

import importlib.util

import numpy as np
from scipy import ndimage
from skimage.restoration import denoise_nl_means, denoise_tv_chambolle, denoise_wavelet

from denoisekit.registry import Param, Progress, register_method

# sigma (0–255 scale) -> best parameter on Train400 validation crops (benchmarks/tune_classical.py).
_SIGMAS = (5.0, 15.0, 25.0, 50.0)
_MEAN_SIZE = (3, 3, 3, 7)
_MEDIAN_SIZE = (3, 3, 5, 7)
_GAUSSIAN_WIDTH = (0.4, 0.65, 1.0, 1.7)
_NLM_H = (0.7, 0.6, 0.6, 0.5)  # h / sigma
_TV_WEIGHT = (0.4, 0.6, 0.75, 0.9)  # weight / (sigma / 255)
_WAVELET_SMOOTH_BELOW = 20.0  # coif1 wins below this sigma, db1 above


def _from_table(sigma: float, table: tuple[float, ...]) -> float:
    return float(np.interp(sigma, _SIGMAS, table))


def _odd_size(sigma: float, table: tuple[int, ...]) -> int:
    size = round(_from_table(sigma, table))
    return size if size % 2 else size + 1


_SIZE = Param("size", int, None, "window side in pixels (default: from sigma)", low=1, high=31)


@register_method("mean", family="classical", summary="Box (mean) filter", params=(_SIZE,), bytes_per_pixel=16)
def mean_filter(
    image: np.ndarray, sigma: float, progress: Progress | None = None, *, size: int | None = None
) -> np.ndarray:
    """Average over a ``size``×``size`` window, per channel.

    Examples
    --------
    >>> import numpy as np
    >>> mean_filter(np.ones((8, 8, 1), np.float32), sigma=25).shape
    (8, 8, 1)
    """
    size = size or _odd_size(sigma, _MEAN_SIZE)
    return ndimage.uniform_filter(image, size=(size, size, 1), mode="reflect")


@register_method("median", family="classical", summary="Median filter", params=(_SIZE,), bytes_per_pixel=16)
def median_filter(
    image: np.ndarray, sigma: float, progress: Progress | None = None, *, size: int | None = None
) -> np.ndarray:
    """Median over a ``size``×``size`` window, per channel; robust to salt-and-pepper noise."""
    size = size or _odd_size(sigma, _MEDIAN_SIZE)
    return ndimage.median_filter(image, size=(size, size, 1), mode="reflect")


@register_method(
    "gaussian",
    family="classical",
    summary="Gaussian blur",
    params=(
        Param(
            "width", float, None, "standard deviation of the kernel in pixels (default: from sigma)", low=0.1, high=20
        ),
    ),
    bytes_per_pixel=16,
)
def gaussian_filter(
    image: np.ndarray, sigma: float, progress: Progress | None = None, *, width: float | None = None
) -> np.ndarray:
    """Convolve each channel with a Gaussian of standard deviation ``width`` pixels."""
    width = width or _from_table(sigma, _GAUSSIAN_WIDTH)
    return ndimage.gaussian_filter(image, sigma=(width, width, 0), mode="reflect")


@register_method(
    "nlm",
    family="classical",
    summary="Non-local means (scikit-image, fast mode)",
    params=(
        Param("h", float, None, "filtering strength, as a multiple of sigma (default: tuned)", low=0.05, high=5),
        Param("patch_size", int, 5, "side of the compared patches", low=3, high=15),
        Param("patch_distance", int, 6, "search radius in pixels", low=1, high=30),
    ),
)
def nl_means(
    image: np.ndarray,
    sigma: float,
    progress: Progress | None = None,
    *,
    h: float | None = None,
    patch_size: int = 5,
    patch_distance: int = 6,
) -> np.ndarray:
    """Non-local means of Buades et al., averaging pixels whose neighbourhoods look alike."""
    noise = sigma / 255.0
    h = (h or _from_table(sigma, _NLM_H)) * noise
    out = denoise_nl_means(
        image,
        h=h,
        sigma=noise,
        patch_size=patch_size,
        patch_distance=patch_distance,
        fast_mode=True,
        channel_axis=-1,
    )
    return out.reshape(image.shape).astype(np.float32)


@register_method(
    "tv",
    family="classical",
    summary="Total-variation denoising (Chambolle)",
    params=(
        Param(
            "weight",
            float,
            None,
            "regularisation weight, as a multiple of sigma/255 (default: tuned)",
            low=0.01,
            high=20,
        ),
    ),
)
def tv_chambolle(
    image: np.ndarray, sigma: float, progress: Progress | None = None, *, weight: float | None = None
) -> np.ndarray:
    """Chambolle's total-variation minimisation; piecewise-smooth output."""
    weight = (weight or _from_table(sigma, _TV_WEIGHT)) * sigma / 255.0
    return denoise_tv_chambolle(image, weight=weight, channel_axis=-1).astype(np.float32)


@register_method(
    "wavelet",
    family="classical",
    summary="Wavelet shrinkage (BayesShrink, scikit-image)",
    params=(
        Param(
            "wavelet", str, None, "wavelet family (default: from sigma)", choices=("db1", "db2", "db4", "sym4", "coif1")
        ),
        Param("mode", str, "soft", "thresholding", choices=("soft", "hard")),
    ),
)
def wavelet(
    image: np.ndarray,
    sigma: float,
    progress: Progress | None = None,
    *,
    wavelet: str | None = None,
    mode: str = "soft",
) -> np.ndarray:
    """BayesShrink thresholding of a wavelet decomposition; colour is denoised in YCbCr."""
    wavelet = wavelet or ("coif1" if sigma < _WAVELET_SMOOTH_BELOW else "db1")
    out = denoise_wavelet(
        image,
        sigma=sigma / 255.0,
        wavelet=wavelet,
        mode=mode,
        method="BayesShrink",
        rescale_sigma=True,
        convert2ycbcr=image.shape[2] == 3,
        channel_axis=-1,
    )
    return out.reshape(image.shape).astype(np.float32)


def _bm3d_missing() -> str | None:
    if importlib.util.find_spec("bm3d") is None:
        return "BM3D needs the optional package: pip install 'denoisekit[bm3d]' (non-commercial licence)"
    return None


@register_method(
    "bm3d",
    family="classical",
    summary="BM3D / CBM3D (bm3d package; non-commercial licence)",
    params=(Param("profile", str, "np", "BM3D parameter profile", choices=("np", "refilter", "vn", "high")),),
    bytes_per_pixel=256,
    unavailable=_bm3d_missing,
)
def bm3d_filter(
    image: np.ndarray, sigma: float, progress: Progress | None = None, *, profile: str = "np"
) -> np.ndarray:
    """Block-matching and 3-D filtering (Dabov et al.); colour images use CBM3D in opponent colours."""
    import bm3d

    noise = sigma / 255.0
    if image.shape[2] == 3:
        out = bm3d.bm3d_rgb(image, noise, profile=profile)
    else:
        out = bm3d.bm3d(image[:, :, 0], noise, profile=profile)
    return np.asarray(out, dtype=np.float32).reshape(image.shape)
