"""The real command, in a subprocess: exit codes, one-line errors, nothing written on failure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import smooth_image

from denoisekit import add_noise, read_image, write_image


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "denoisekit", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def scene(tmp_path: Path) -> Path:
    clean = smooth_image(64, 64, 1)
    write_image(tmp_path / "clean.png", clean)
    write_image(tmp_path / "noisy.png", add_noise(clean, sigma=25, seed=0))
    return tmp_path


def assert_refused(result: subprocess.CompletedProcess, message: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_denoise_reports_estimate_and_metrics(scene):
    result = run("denoise", "noisy.png", "-o", "out.png", "--reference", "clean.png", cwd=scene)
    assert result.returncode == 0, result.stderr
    assert "(estimated)" in result.stdout and "PSNR=" in result.stdout
    out, info = read_image(scene / "out.png")
    clean, _ = read_image(scene / "clean.png")
    noisy, _ = read_image(scene / "noisy.png")
    assert np.mean((out - clean) ** 2) < np.mean((noisy - clean) ** 2) / 2
    assert info.format == "PNG" and info.bit_depth == 8


def test_sixteen_bit_stays_sixteen_bit(scene):
    write_image(scene / "deep.tif", read_image(scene / "noisy.png")[0], bit_depth=16)
    result = run("denoise", "deep.tif", "-o", "deep_out.tif", "-m", "gaussian", "--sigma", "20", cwd=scene)
    assert result.returncode == 0, result.stderr
    _, info = read_image(scene / "deep_out.tif")
    assert (info.format, info.bit_depth) == ("TIFF", 16)


def test_several_inputs_go_to_a_folder_under_their_names(scene):
    write_image(scene / "second.png", read_image(scene / "noisy.png")[0])
    result = run("denoise", "noisy.png", "second.png", "-o", "outs", "-m", "median", "--workers", "2", cwd=scene)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (scene / "outs").iterdir()) == ["noisy.png", "second.png"]


def test_one_corrupt_file_in_a_batch_is_reported_and_the_rest_done(scene):
    (scene / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    result = run("denoise", "noisy.png", "broken.png", "-o", "outs", "-m", "mean", cwd=scene)
    assert result.returncode == 2
    assert "broken.png" in result.stderr and "Traceback" not in result.stderr
    assert [p.name for p in (scene / "outs").iterdir()] == ["noisy.png"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.png", "-o", "x.png"], "no such file"),
        (["noisy.png", "-o", "x.png", "-m", "magic"], "unknown method"),
        (["noisy.png", "-o", "x.png", "--sigma", "-5"], "sigma"),
        (["noisy.png", "-o", "x.png", "--sigma", "900"], "sigma"),
        (["noisy.png", "-o", "x.png", "--sigma", "nan"], "sigma"),
        (["noisy.png", "-o", "x.png", "--workers", "0"], "--workers"),
        (["noisy.png", "-o", "x.png", "--device", "cuda"], "no CUDA GPU"),
        (["noisy.png", "-o", "x.png", "--device", "tpu"], "unknown device"),
        (["noisy.png", "-o", "x.png", "-p", "size=3"], "no parameter"),
        (["noisy.png", "-o", "x.gif"], "x.gif"),
        (["noisy.png", "-o", "nowhere/x.png"], "nowhere"),
        (["noisy.png", "-o", "noisy.png", "--overwrite"], "its own input"),
        (["notes.txt", "-o", "x.png"], "notes.txt"),
        (["noisy.png"], "required"),
    ],
)
def test_bad_input_is_one_line_and_status_2_and_writes_nothing(scene, args, message):
    (scene / "notes.txt").write_text("not an image")
    before = sorted(p.name for p in scene.iterdir())
    assert_refused(run("denoise", *args, cwd=scene), message)
    assert sorted(p.name for p in scene.iterdir()) == before


def test_existing_output_is_never_overwritten_unless_asked(scene):
    (scene / "out.png").write_bytes(b"precious")
    assert_refused(run("denoise", "noisy.png", "-o", "out.png", cwd=scene), "--overwrite")
    assert (scene / "out.png").read_bytes() == b"precious"
    assert run("denoise", "noisy.png", "-o", "out.png", "--overwrite", cwd=scene).returncode == 0
    assert read_image(scene / "out.png")[0].shape == (64, 64, 1)


def test_noise_metrics_estimate_and_methods(scene):
    result = run("noise", "clean.png", "-o", "made.png", "--sigma", "25", "--seed", "3", cwd=scene)
    assert result.returncode == 0, result.stderr
    metrics = run("metrics", "clean.png", "made.png", "--json", cwd=scene)
    assert metrics.returncode == 0
    assert 19 < float(metrics.stdout.split('"psnr": ')[1].split(",")[0]) < 22  # σ=25 noise is ~20.2 dB
    estimate = run("estimate", "made.png", cwd=scene)
    assert estimate.returncode == 0 and "sigma=" in estimate.stdout
    listing = run("methods", cwd=scene)
    assert "bm3d" in listing.stdout and "(default)" in listing.stdout
    assert_refused(run("metrics", "clean.png", "missing.png", cwd=scene), "missing.png")
    assert_refused(run("noise", "clean.png", "-o", "n2.png", "--sigma", "-1", cwd=scene), "sigma")


def test_bench_writes_tables(scene):
    data = scene / "data"
    data.mkdir()
    write_image(data / "a.png", smooth_image(40, 40, 1))
    result = run("bench", "--data", "data", "--sigma", "25", "--methods", "mean", "--out", "res", cwd=scene)
    assert result.returncode == 0, result.stderr
    assert "| mean |" in result.stdout
    assert (scene / "res" / "results.json").exists()
    assert_refused(run("bench", "--data", "nope", "--methods", "mean", "--out", "r", cwd=scene), "nope")
