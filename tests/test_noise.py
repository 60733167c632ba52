import numpy as np
import pytest

from denoisekit import InputError, add_noise, benchmark_noise
from denoisekit.noise import NOISE_MODELS, quantize_to_bits


def test_gaussian_level_matches_sigma_on_255_scale():
    clean = np.full((256, 256), 0.5, np.float32)
    noisy = add_noise(clean, "gaussian", sigma=25, seed=1, clip=False)
    assert noisy.shape == (256, 256, 1) and noisy.dtype == np.float32
    assert abs((noisy - 0.5).std() * 255 - 25) < 0.5


def test_same_seed_same_noise_and_other_seed_differs(gray):
    a = add_noise(gray, sigma=15, seed=3)
    assert np.array_equal(a, add_noise(gray, sigma=15, seed=3))
    assert not np.array_equal(a, add_noise(gray, sigma=15, seed=4))


def test_benchmark_protocol_is_clipped_and_8_bit(gray):
    noisy = benchmark_noise(gray, 50, seed=0)
    assert noisy.min() >= 0 and noisy.max() <= 1
    assert np.allclose(noisy * 255, np.round(noisy * 255), atol=1e-4)


def test_unclipped_benchmark_noise_keeps_floats(gray):
    noisy = benchmark_noise(np.zeros_like(gray), 50, seed=0, clip=False)
    assert noisy.min() < -0.2 and not np.allclose(noisy * 255, np.round(noisy * 255))


@pytest.mark.parametrize("model", list(NOISE_MODELS))
def test_every_model_changes_the_image_and_stays_in_range(model, color):
    noisy = add_noise(color, model, seed=0)
    assert noisy.shape == color.shape
    assert noisy.min() >= 0 and noisy.max() <= 1
    assert np.abs(noisy - color).mean() > 0.005


def test_poisson_noise_grows_with_fewer_photons(gray):
    weak = add_noise(gray, "poisson", peak=5, seed=0)
    strong = add_noise(gray, "poisson", peak=500, seed=0)
    assert np.abs(weak - gray).mean() > 3 * np.abs(strong - gray).mean()


def test_salt_and_pepper_sets_the_asked_fraction():
    noisy = add_noise(np.full((200, 200), 0.5), "salt-pepper", amount=0.1, seed=0)
    hit = (noisy == 0) | (noisy == 1)
    assert abs(hit.mean() - 0.1) < 0.01


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model": "pink"}, "unknown noise model"),
        ({"sigma": -3}, "out of range"),
        ({"sigma": 1000}, "out of range"),
        ({"sigma": float("nan")}, "out of range"),
        ({"model": "poisson", "peak": 0}, "peak"),
        ({"model": "salt-pepper", "amount": 2}, "amount"),
        ({"model": "gaussian", "peak": 3}, "peak"),
    ],
)
def test_bad_levels_are_refused(kwargs, message, gray):
    with pytest.raises(InputError, match=message):
        add_noise(gray, **kwargs)


def test_quantize_rounds_to_levels():
    values = quantize_to_bits(np.array([[-0.1, 0.5, 1.2]]), 8)
    assert np.allclose(values * 255, [[0, 128, 255]])
    with pytest.raises(InputError):
        quantize_to_bits(values, 12)
