from __future__ import annotations

import numpy as np
import pytest
from conftest import smooth_image

from denoisekit import InputError, add_noise, denoise, denoise_file, denoise_files, read_image, write_image
from denoisekit.api import expand_inputs, resolve_device, sample_image


def test_rgba_file_keeps_its_alpha_untouched(tmp_path):
    rgb = add_noise(smooth_image(48, 48, 3), sigma=20, seed=0)
    alpha = np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8)
    _, info = read_image(write_image(tmp_path / "in.png", rgb))
    info.alpha = alpha
    write_image(tmp_path / "rgba.png", rgb, info, overwrite=True)
    report = denoise_file(tmp_path / "rgba.png", tmp_path / "out.png", "median", 20)
    out, out_info = read_image(report.output)
    assert out.shape == (48, 48, 3)
    assert np.array_equal(out_info.alpha, alpha)


def test_reference_gives_metrics_of_the_written_file(tmp_path):
    clean = smooth_image(48, 48, 1)
    write_image(tmp_path / "clean.png", clean)
    write_image(tmp_path / "noisy.png", add_noise(clean, sigma=25, seed=1))
    report = denoise_file(tmp_path / "noisy.png", tmp_path / "out.png", "nlm", reference=tmp_path / "clean.png")
    assert report.sigma_estimated and 15 < report.sigma < 35
    written, _ = read_image(tmp_path / "out.png")
    clean, _ = read_image(tmp_path / "clean.png")
    assert report.psnr == pytest.approx(10 * np.log10(1 / np.mean((written - clean) ** 2)), abs=1e-3)
    assert "PSNR=" in report.summary()


def test_workers_give_the_same_results_as_one_process(tmp_path):
    for i in range(3):
        write_image(
            tmp_path / "in" / f"{i}.png" if (tmp_path / "in").mkdir(exist_ok=True) is None else "",
            add_noise(smooth_image(40, 40, 1, seed=i), sigma=15, seed=i),
        )
    serial = denoise_files([tmp_path / "in"], tmp_path / "a", "mean", 15)
    parallel = denoise_files([str(tmp_path / "in" / "*.png")], tmp_path / "b", "mean", 15, workers=2)
    assert [r.error for r in serial + parallel] == [None] * 6
    for r in serial:
        assert np.array_equal(read_image(r.output)[0], read_image(tmp_path / "b" / r.output.name)[0])


def test_checks_happen_before_any_work(tmp_path):
    write_image(tmp_path / "a.png", smooth_image(16, 16, 1))
    write_image(tmp_path / "b.png", smooth_image(16, 16, 1))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "b.png").write_bytes(b"keep")
    with pytest.raises(InputError, match="--overwrite"):
        denoise_files([tmp_path / "a.png", tmp_path / "b.png"], tmp_path / "out", "mean", 10)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["b.png"]


def test_expand_inputs_refuses_empty_folders_and_patterns(tmp_path):
    with pytest.raises(InputError, match="no image"):
        expand_inputs([tmp_path])
    with pytest.raises(InputError, match="no image matches"):
        expand_inputs([str(tmp_path / "*.png")])


def test_automatic_tiling_when_memory_is_short(monkeypatch):
    import denoisekit.api as api

    noisy = add_noise(smooth_image(300, 300, 1), sigma=25, seed=0)
    monkeypatch.setattr(api, "available_memory", lambda: 300 * 300 * 16)  # too little for the whole
    assert api._auto_tile(api.get_method("gaussian"), noisy) == 256
    tiled = denoise(noisy, "gaussian", sigma=25)
    monkeypatch.undo()
    assert np.abs(tiled - denoise(noisy, "gaussian", sigma=25)).max() < 1e-3


def test_device_and_sample_helpers():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda")
    assert read_image(sample_image("camera"))[0].shape == (512, 512, 1)
    with pytest.raises(InputError, match="camera"):
        sample_image("nope")
