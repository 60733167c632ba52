import json

import pytest
from conftest import smooth_image

from denoisekit import InputError, write_image
from denoisekit.bench import image_seed, run_benchmark


@pytest.fixture
def dataset(tmp_path):
    folder = tmp_path / "tiny"
    folder.mkdir()
    for i in range(2):
        write_image(folder / f"{i}.png", smooth_image(40, 48, 1, seed=i))
    return folder


def test_records_tables_and_figure(dataset, tmp_path):
    out = tmp_path / "res"
    records = run_benchmark([dataset], [15, 50], ["mean", "median"], out)
    assert len(records) == 2 * 2 * 2
    first = records[0]
    assert {"dataset", "image", "method", "sigma", "psnr", "ssim", "seconds"} <= set(first)
    assert first["dataset"] == "tiny"
    assert json.loads((out / "results.json").read_text()) == records
    assert (out / "results.csv").read_text().startswith("dataset,image,method,sigma,psnr,ssim,seconds")
    table = (out / "results.md").read_text()
    assert "| mean |" in table and "σ=50" in table
    assert (out / "figure_tiny_sigma15.png").stat().st_size > 1000
    # more noise, worse result
    by = {(r["image"], r["method"], r["sigma"]): r["psnr"] for r in records}
    assert by["0.png", "mean", 15.0] > by["0.png", "mean", 50.0]


def test_reruns_agree_and_resume_without_recomputing(dataset, tmp_path):
    first = run_benchmark([dataset], [25], ["mean"], tmp_path / "a")
    again = run_benchmark([dataset], [25], ["mean"], tmp_path / "b", workers=2)
    assert [r["psnr"] for r in first] == [r["psnr"] for r in again]
    calls = []
    run_benchmark([dataset], [25], ["mean"], tmp_path / "a", progress=lambda *a: calls.append(a))
    assert calls == []  # everything was already in results.jsonl
    assert len((tmp_path / "a" / "results.jsonl").read_text().splitlines()) == 2


def test_seed_is_stable_and_distinct():
    assert image_seed("set12", "01.png", 25, 0) == image_seed("set12", "01.png", 25.0, 0)
    assert image_seed("set12", "01.png", 25, 0) != image_seed("set12", "02.png", 25, 0)


def test_bad_arguments(dataset, tmp_path):
    with pytest.raises(InputError, match="no such folder"):
        run_benchmark([tmp_path / "nope"], [25], ["mean"], tmp_path / "o")
    with pytest.raises(InputError, match="unknown method"):
        run_benchmark([dataset], [25], ["magic"], tmp_path / "o")
    with pytest.raises(InputError, match="sigma"):
        run_benchmark([dataset], [0], ["mean"], tmp_path / "o")


def test_unclipped_protocol_keeps_float_noise_and_is_not_mixed(dataset, tmp_path):
    records = run_benchmark([dataset], [50], ["mean"], tmp_path / "u", protocol="unclipped")
    assert {r["protocol"] for r in records} == {"unclipped"}
    with pytest.raises(InputError, match="another noise protocol"):
        run_benchmark([dataset], [50], ["mean"], tmp_path / "u")
    with pytest.raises(InputError, match="unknown protocol"):
        run_benchmark([dataset], [50], ["mean"], tmp_path / "v", protocol="dirty")


def test_limit_takes_the_first_images_only(dataset, tmp_path):
    records = run_benchmark([dataset], [25], ["mean"], tmp_path / "res", limit=1)
    assert [r["image"] for r in records] == ["0.png"]
