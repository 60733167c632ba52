import numpy as np
import pytest

from denoisekit import InputError, add_noise, denoise, get_method, list_methods, psnr
from denoisekit.registry import Param, resolve_alias

CLASSICAL = [m for m in list_methods("classical") if get_method(m).unavailable() is None]


def test_the_literature_baselines_are_registered():
    assert {"mean", "median", "gaussian", "nlm", "tv", "wavelet", "bm3d"} <= set(list_methods("classical"))
    assert resolve_alias("default") in list_methods()


@pytest.mark.parametrize("method", CLASSICAL)
@pytest.mark.parametrize("channels", [1, 3])
def test_every_classical_method_beats_the_noisy_input(method, channels):
    from conftest import smooth_image

    clean = smooth_image(64, 64, channels)
    noisy = add_noise(clean, sigma=25, seed=0)
    out = denoise(noisy, method, sigma=25)
    assert out.shape == clean.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1
    assert psnr(clean, out) > psnr(clean, noisy) + 1.0


def test_sigma_is_estimated_when_omitted(gray):
    noisy = add_noise(gray, sigma=25, seed=0)
    assert psnr(gray, denoise(noisy, "nlm")) > psnr(gray, noisy) + 3


def test_parameters_change_the_result(gray):
    noisy = add_noise(gray, sigma=25, seed=0)
    small = denoise(noisy, "median", sigma=25, size=3)
    large = denoise(noisy, "median", sigma=25, size=9)
    assert not np.allclose(small, large)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"size": 0}, "must be in"),
        ({"size": "big"}, "type int"),
        ({"radius": 3}, "no parameter 'radius'"),
    ],
)
def test_bad_parameters_are_refused(params, message, gray):
    with pytest.raises(InputError, match=message):
        denoise(gray, "median", sigma=10, **params)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.full((8, 8), np.nan, np.float32), "NaN"),
        (np.zeros((8, 8, 4), np.float32), "shape"),
        (np.zeros((8, 8), np.int32), "dtype"),
        (np.full((8, 8), 200.0), "0, 1"),
        ([[0.1, 0.2]], "NumPy array"),
    ],
)
def test_bad_images_are_refused(image, message):
    with pytest.raises(InputError, match=message):
        denoise(image, "mean", sigma=10)


@pytest.mark.parametrize("sigma", [-1, 0, 300, float("nan"), "loud"])
def test_absurd_sigma_is_refused(sigma, gray):
    with pytest.raises(InputError, match="sigma"):
        denoise(gray, "mean", sigma=sigma)


def test_unknown_method_names_the_choices(gray):
    with pytest.raises(InputError, match=r"unknown method 'magic'.*median"):
        denoise(gray, "magic")


def test_uint8_input_is_accepted_and_scaled(gray):
    as_bytes = np.round(gray[:, :, 0] * 255).astype(np.uint8)
    assert np.allclose(denoise(as_bytes, "mean", sigma=5), denoise(as_bytes / 255.0, "mean", sigma=5), atol=1e-6)


def test_param_checks_choices():
    param = Param("mode", str, "soft", "", choices=("soft", "hard"))
    assert param.check("hard") == "hard"
    with pytest.raises(InputError, match="one of"):
        param.check("medium")
