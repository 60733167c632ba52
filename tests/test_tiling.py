import numpy as np
import pytest

from denoisekit import Cancelled, InputError, add_noise, denoise
from denoisekit.tiling import tiled


def test_pointwise_function_is_exact_through_tiles():
    image = np.random.default_rng(0).random((130, 97, 3)).astype(np.float32)
    assert np.allclose(tiled(lambda x: x**2, image, tile=40, overlap=8), image**2, atol=1e-6)


def test_tiled_filter_has_no_seams(gray):
    from conftest import smooth_image

    clean = smooth_image(150, 150, 1)
    noisy = add_noise(clean, sigma=25, seed=0)
    whole = denoise(noisy, "gaussian", sigma=25)
    pieces = denoise(noisy, "gaussian", sigma=25, tile=48, overlap=12)
    # The Gaussian's reach (~4 px) is inside the overlap, so tiles agree with the whole image.
    assert np.abs(whole - pieces).max() < 1e-3


def test_progress_counts_tiles_and_can_cancel(gray):
    seen = []
    tiled(lambda x: x, gray, tile=32, overlap=4, progress=lambda s, t, m: seen.append((s, t)) or True)
    assert seen[-1] == (len(seen), len(seen)) and len(seen) == 9
    with pytest.raises(Cancelled):
        tiled(lambda x: x, gray, tile=32, overlap=4, progress=lambda s, t, m: False)


@pytest.mark.parametrize(("tile", "overlap"), [(4, 0), (32, 16), (32, -1)])
def test_bad_tiles_are_refused(tile, overlap, gray):
    with pytest.raises(InputError):
        tiled(lambda x: x, gray, tile=tile, overlap=overlap)
