"""The collaborative Wiener step zs-blend ends with: its matching, its transforms and its gain."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import smooth_image
from scipy.ndimage import gaussian_filter

import denoisekit as dk
from denoisekit.zeroshot.dip import to_image, to_tensor
from denoisekit.zeroshot.wiener import collaborative_wiener, dct_matrix, grid, match, opponent

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_transforms_are_orthonormal():
    for matrix in (dct_matrix(8), dct_matrix(16), opponent(3), opponent(1)):
        assert torch.allclose(matrix @ matrix.T, torch.eye(len(matrix)), atol=1e-5)
    assert torch.allclose(opponent(3)[0], torch.full((3,), 3**-0.5))  # luminance first


def test_grid_covers_the_last_patch():
    assert grid(14).tolist() == [0, 3, 6]
    assert grid(15).tolist() == [0, 3, 6, 7]


def test_match_puts_the_reference_first_then_its_copy():
    rng = np.random.default_rng(0)
    image = torch.from_numpy(rng.random((30, 30), dtype=np.float32))
    image[15:23, 18:26] = image[3:11, 6:14]  # a copy of the patch at (3, 6), 12 rows and 12 columns on
    corners = match(image, torch.tensor([3]), torch.tensor([6]), group=4, window=25)
    assert corners.shape == (2, 4, 1)
    assert corners[:, 0, 0].tolist() == [3, 6] and corners[:, 1, 0].tolist() == [15, 18]


def test_wiener_with_the_clean_image_as_pilot_removes_most_noise():
    clean = smooth_image(48, 48, 3)
    noisy = dk.add_noise(clean, sigma=25, seed=1)
    out = to_image(collaborative_wiener(to_tensor(noisy), to_tensor(clean), sigma=25 / 255))
    assert dk.psnr(clean, out) > dk.psnr(clean, noisy) + 10


def test_a_flat_image_is_restored_everywhere():
    clean = np.full((40, 40, 1), 0.5, np.float32)
    noisy = dk.add_noise(clean, sigma=25, seed=1)
    out = to_image(collaborative_wiener(to_tensor(noisy), to_tensor(clean), sigma=25 / 255))
    # Every patch ties with every other: the reference must stay in its own group, or pixels that
    # no group covers come back as 0.
    assert np.abs(out - 0.5).max() < 0.05 and dk.psnr(clean, out) > dk.psnr(clean, noisy) + 20


def test_wiener_improves_a_blurred_pilot():
    clean = smooth_image(48, 48, 1, seed=3)
    noisy = dk.add_noise(clean, sigma=25, seed=2)
    pilot = gaussian_filter(noisy, (1.5, 1.5, 0)).astype(np.float32)
    out = to_image(collaborative_wiener(to_tensor(noisy), to_tensor(pilot), sigma=25 / 255))
    assert dk.psnr(clean, out) > dk.psnr(clean, pilot) + 0.5


def test_without_noise_the_noisy_image_comes_back_at_any_size():
    generator = torch.Generator().manual_seed(0)
    for shape in ((8, 8, 1), (5, 3, 3), (9, 40, 1)):
        image = torch.rand(1, shape[2], *shape[:2], generator=generator)
        for sigma in (1e-8, 0.0):  # a pilot coefficient as small as σ is still shrunk: a tolerance
            out = collaborative_wiener(image, image.clamp(0.3, 0.7), sigma=sigma)
            assert out.shape == image.shape and torch.allclose(out, image, atol=1e-3)
