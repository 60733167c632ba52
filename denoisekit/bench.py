"""Benchmark harness: methods × noise levels × images, with the published protocol.

Protocol: each clean 8-bit image gets N(0, sigma²) on the 0–255 scale, clipped and rounded to
8 bits (``clipped``, what a real 8-bit file holds) or left as unclipped floats (``unclipped``,
what the published DnCNN/BM3D tables used), with a seed derived from (dataset, image, sigma,
seed) so reruns agree exactly.
Methods are told the true sigma (non-blind, as in the published tables) unless ``blind``.
The output is clipped and rounded to 8 bits, as a saved file would be, before PSNR and SSIM.

Every record is appended to ``results.jsonl`` as soon as it exists; a rerun with the same
output folder skips what is there, so a killed benchmark loses nothing.
"""

from __future__ import annotations

import csv
import json
import os
import time
import zlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from denoisekit import io
from denoisekit.api import IMAGE_SUFFIXES, denoise, resolve_method
from denoisekit.errors import InputError
from denoisekit.figures import centre_crop, side_by_side
from denoisekit.metrics import psnr, ssim
from denoisekit.noise import benchmark_noise, quantize_to_bits
from denoisekit.parallel import parallel_map
from denoisekit.registry import Progress, get_method
from denoisekit.validation import check_sigma

FIELDS = ("dataset", "image", "method", "sigma", "psnr", "ssim", "seconds", "height", "width", "channels", "protocol")
PROTOCOLS = ("clipped", "unclipped")


def image_seed(dataset: str, image: str, sigma: float, seed: int) -> int:
    """A stable seed per (dataset, image, sigma): independent of run order and of Python's hash."""
    return zlib.crc32(f"{dataset}/{image}/{sigma:g}/{seed}".encode())


def _images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder")
    found = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not found:
        raise InputError(f"{folder}: folder holds no image")
    return found


def _run_one(task: tuple) -> dict:
    dataset, path, sigma, label, method, weights, seed, blind, protocol, figure_dir = task
    clean, _ = io.read_image(path)
    noisy = benchmark_noise(clean, sigma, image_seed(dataset, path.name, sigma, seed), clip=protocol == "clipped")
    start = time.perf_counter()
    out = denoise(noisy, method, None if blind else sigma, weights=weights)
    seconds = time.perf_counter() - start
    out = quantize_to_bits(out, 8)
    if figure_dir is not None:
        figure_dir.mkdir(parents=True, exist_ok=True)
        np.save(figure_dir / f"{label}.npy", out)
        np.save(figure_dir / "noisy.npy", noisy)
        np.save(figure_dir / "clean.npy", clean)
    height, width, channels = clean.shape
    return {
        "dataset": dataset,
        "image": path.name,
        "method": label,
        "sigma": sigma,
        "psnr": psnr(clean, out),
        "ssim": ssim(clean, out),
        "seconds": seconds,
        "height": height,
        "width": width,
        "channels": channels,
        "protocol": protocol,
    }


def _key(record: dict) -> tuple:
    return record["dataset"], record["image"], record["method"], float(record["sigma"])


def run_benchmark(
    data: Sequence[str | os.PathLike],
    sigmas: Sequence[float],
    methods: Sequence[str],
    out: str | os.PathLike,
    *,
    seed: int = 0,
    blind: bool = False,
    protocol: str = "clipped",
    workers: int = 1,
    limit: int | None = None,
    weights: Mapping[str, str | os.PathLike] | None = None,
    progress: Progress | None = None,
) -> list[dict]:
    """Run every method on every image of every folder at every sigma; write the results.

    ``limit`` takes only the first images of each folder (in name order), for timing runs.
    ``weights`` maps labels to weights files written by ``denoisekit train``: each runs as one
    more method under its label.

    Writes ``results.jsonl`` (as it goes), ``results.json``, ``results.csv``, ``results.md``
    (means per dataset, method and sigma) and ``figure_<dataset>_sigma<S>.png`` (centre crops
    of the first image: clean, noisy, each method) into ``out``. Returns all records.
    """
    if protocol not in PROTOCOLS:
        raise InputError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    folders = [Path(d) for d in data]
    images = {folder.name: _images(folder)[:limit] for folder in folders}
    sigmas = [check_sigma(s) for s in sigmas]
    names = [get_method(m).name for m in methods]
    for name in names:
        if reason := get_method(name).unavailable():
            raise InputError(f"method {name!r} is not available: {reason}")
    weights = {label: Path(path) for label, path in (weights or {}).items()}
    # A trained weights file runs as the model its header names, under its own label; the
    # header is read once here (a missing or foreign file fails before any run), not per image.
    runs_as = {name: name for name in names}
    for label, path in weights.items():
        if label in names:
            raise InputError(f"weights label {label!r} is also a method name; pick another label")
        runs_as[label] = resolve_method("default", path).name
    names += list(weights)
    if not names:
        raise InputError("nothing to benchmark: name methods, weights files, or both")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "results.jsonl"
    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()] if log.exists() else []
    if any(r.get("protocol", "clipped") != protocol for r in records):
        raise InputError(f"{out} holds results of another noise protocol; use a new --out folder")
    done = {_key(r) for r in records}
    tasks = [
        (
            dataset,
            path,
            sigma,
            method,
            runs_as[method],
            weights.get(method),
            seed,
            blind,
            protocol,
            out / "figures" / f"{dataset}_sigma{sigma:g}" if index == 0 else None,
        )
        for dataset, paths in images.items()
        for sigma in sigmas
        for index, path in enumerate(paths)
        for method in names
        if (dataset, path.name, method, sigma) not in done
    ]
    total = len(tasks)
    with log.open("a") as sink:
        for step, record in enumerate(parallel_map(_run_one, tasks, workers), 1):
            _keep(record, records, sink, progress, step, total)
    chosen = {(dataset, path.name) for dataset, paths in images.items() for path in paths}
    wanted = [
        r for r in records if (r["dataset"], r["image"]) in chosen and r["method"] in names and r["sigma"] in sigmas
    ]
    write_results(wanted, out)
    for dataset in images:
        for sigma in sigmas:
            _figure(out / "figures" / f"{dataset}_sigma{sigma:g}", names, out / f"figure_{dataset}_sigma{sigma:g}.png")
    return wanted


def _keep(record: dict, records: list, sink, progress: Progress | None, step: int, total: int) -> None:
    records.append(record)
    sink.write(json.dumps(record) + "\n")
    sink.flush()
    if progress is not None:
        progress(step, total, record)


def mean_table(records: list[dict]) -> str:
    """Markdown tables of mean PSNR / SSIM per dataset, method and sigma, with seconds per image."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        groups[r["dataset"], r["method"], r["sigma"]].append(r)
    lines = []
    for dataset in dict.fromkeys(r["dataset"] for r in records):
        sigmas = sorted({r["sigma"] for r in records if r["dataset"] == dataset})
        count = len({r["image"] for r in records if r["dataset"] == dataset})
        lines += [f"**{dataset}** ({count} images): PSNR (dB) / SSIM, mean seconds per image", ""]
        lines.append("| method | " + " | ".join(f"σ={s:g}" for s in sigmas) + " | s/image |")
        lines.append("|---" * (len(sigmas) + 2) + "|")
        for method in dict.fromkeys(r["method"] for r in records if r["dataset"] == dataset):
            cells, seconds = [], []
            for s in sigmas:
                group = groups.get((dataset, method, s), [])
                seconds += [r["seconds"] for r in group]
                cells.append(
                    f"{np.mean([r['psnr'] for r in group]):.2f} / {np.mean([r['ssim'] for r in group]):.4f}"
                    if group
                    else "–"
                )
            lines.append(f"| {method} | " + " | ".join(cells) + f" | {np.mean(seconds):.2f} |")
        lines.append("")
    return "\n".join(lines)


def write_results(records: list[dict], out: Path) -> None:
    """results.json, results.csv and results.md from a list of records."""
    (out / "results.json").write_text(json.dumps(records, indent=1))
    with (out / "results.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(records)
    (out / "results.md").write_text(mean_table(records))


def _figure(folder: Path, methods: list[str], path: Path) -> None:
    if not (folder / "clean.npy").exists():
        return
    clean = np.load(folder / "clean.npy")
    size = min(128, *clean.shape[:2])

    def panel(name: str) -> tuple[str, np.ndarray]:
        image = np.load(folder / f"{name}.npy")
        title = name if name == "clean" else f"{name}  {psnr(clean, image):.2f} dB"
        return title, centre_crop(image, size)

    available = [m for m in methods if (folder / f"{m}.npy").exists()]
    side_by_side([panel(n) for n in ["clean", "noisy", *available]], path)
