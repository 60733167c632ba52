import numpy as np
import pytest

from denoisekit import InputError, add_noise, benchmark_noise
from denoisekit.estimate import ESTIMATORS, estimate_sigma

# Relative tolerances on 128×128 images. Patch PCA averages ~15,000 patches (spread about
# 1.5% over seeds); the wavelet median uses ~4,000 coefficients at 37% efficiency (spread
# about 2.5%) and picks up some edges. Both bounds are over three standard deviations away
# from the largest error seen over ten seeds (3% and 8%).
TOLERANCE = {"pca": 0.10, "wavelet": 0.15}


def scene(size: int = 128, channels: int = 1) -> np.ndarray:
    from conftest import smooth_image

    return smooth_image(size, size, channels)


@pytest.mark.parametrize("method", ESTIMATORS)
@pytest.mark.parametrize("sigma", [10, 25, 50])
def test_gaussian_noise_level_is_recovered(method, sigma):
    noisy = add_noise(scene(), sigma=sigma, seed=1, clip=False)
    assert estimate_sigma(noisy, method) == pytest.approx(sigma, rel=TOLERANCE[method])


@pytest.mark.parametrize("method", ESTIMATORS)
@pytest.mark.parametrize("sigma", [5, 15, 50])
def test_benchmark_protocol_clipped_and_rounded(method, sigma):
    noisy = benchmark_noise(scene(), sigma, seed=2)
    assert estimate_sigma(noisy, method) == pytest.approx(sigma, rel=TOLERANCE[method])


@pytest.mark.parametrize("method", ESTIMATORS)
def test_clipped_dark_half_does_not_pull_the_estimate_down(method):
    # Half the image near black: at sigma 30 about 40% of its pixels clip to 0. Without the
    # guard against clipped regions both estimators read about 25.
    y, x = np.mgrid[0:128, 0:128] / 128
    clean = np.where(x < 0.5, 0.04, 0.3 + 0.4 * y).astype(np.float32)
    noisy = benchmark_noise(clean, 30, seed=3)
    assert estimate_sigma(noisy, method) == pytest.approx(30, rel=TOLERANCE[method])


@pytest.mark.parametrize("method", ESTIMATORS)
def test_colour_is_the_mean_of_the_channels(method):
    clean = scene(channels=3)
    noisy = np.stack([add_noise(clean[:, :, c], sigma=s, seed=c)[:, :, 0] for c, s in enumerate((10, 20, 30))], axis=2)
    assert estimate_sigma(noisy, method) == pytest.approx(20, rel=TOLERANCE[method])
    protocol = benchmark_noise(clean, 20, seed=4)
    assert estimate_sigma(protocol, method) == pytest.approx(20, rel=TOLERANCE[method])


@pytest.mark.parametrize("method", ESTIMATORS)
@pytest.mark.parametrize("value", [0.0, 0.3, 1.0])
def test_constant_image_has_no_noise(method, value):
    assert estimate_sigma(np.full((64, 64, 3), value, np.float32), method) < 1


def test_noiseless_smooth_image_reads_low():
    assert estimate_sigma(scene()) < 1


def test_uint8_input_is_the_same_image():
    noisy = benchmark_noise(scene(), 20, seed=5)
    as_uint8 = np.round(noisy[:, :, 0] * 255).astype(np.uint8)
    assert estimate_sigma(as_uint8) == pytest.approx(estimate_sigma(noisy), abs=1e-3)


@pytest.mark.parametrize(
    "image, method",
    [
        (np.full((32, 32), np.nan), "pca"),
        (np.zeros((32, 32, 2)), "pca"),
        (np.zeros((2, 32, 32, 1)), "wavelet"),
        (np.zeros((32, 32)) + 200.0, "pca"),  # 0–255 floats
        (np.zeros((12, 12)), "pca"),  # too few patches
        (np.zeros((1, 400)), "pca"),  # thinner than a patch (a crash before)
        (np.zeros((32, 32)), "bm3d"),
        ([[0.5]], "pca"),
    ],
)
def test_bad_input_raises_input_error(image, method):
    with pytest.raises(InputError):
        estimate_sigma(image, method)
