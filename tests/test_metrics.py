import numpy as np
import pytest
from skimage.metrics import structural_similarity

from denoisekit import InputError, mse, psnr, ssim


def test_psnr_of_known_error():
    reference = np.zeros((16, 16))
    assert psnr(reference, np.full((16, 16), 0.1)) == pytest.approx(20.0)
    assert mse(reference, np.full((16, 16), 0.1)) == pytest.approx(0.01)
    assert psnr(reference, reference) == float("inf")


def test_ssim_is_the_published_gaussian_definition(gray):
    other = np.clip(gray + 0.05 * np.random.default_rng(0).standard_normal(gray.shape), 0, 1)
    expected = structural_similarity(
        gray[:, :, 0],
        other[:, :, 0],
        data_range=1.0,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
    )
    assert ssim(gray, other) == pytest.approx(expected, rel=1e-6)
    assert ssim(gray, gray) == pytest.approx(1.0)


def test_color_ssim_averages_channels(color):
    other = color * 0.9
    per_channel = [ssim(color[:, :, [c]], other[:, :, [c]]) for c in range(3)]
    assert ssim(color, other) == pytest.approx(np.mean(per_channel), rel=1e-6)


def test_mismatched_shapes_and_tiny_images_are_refused(gray, color):
    with pytest.raises(InputError, match="shape"):
        psnr(gray, color)
    with pytest.raises(InputError, match="7×7"):
        ssim(np.zeros((4, 4)), np.zeros((4, 4)))
