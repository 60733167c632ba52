"""Zero-shot benchmark: DIP (oracle best and no-reference pick), ZS-N2N, Pixel2Pixel and their blend on single images.

Noise follows ``denoisekit bench`` (clipped 8-bit protocol, the same seeds per image), outputs
are rounded to 8 bits before PSNR. DIP runs in oracle mode: the whole budget with PSNR logged
per iteration, and the no-reference rule's pick frozen where it would have stopped, so one run
gives the oracle best, the pick, the gap between them, and the time a user without the
reference would have spent (the run's time up to the rule's stop).

Records are appended to ``OUT/results.jsonl`` as they finish (a rerun skips what is there);
``OUT/results.csv`` and ``OUT/summary.md`` are rewritten at the end.

    python benchmarks/zeroshot.py --dataset misc --images ../shared/data/misc/F16_GT.png \
        --methods dip zs-n2n --threads 1 --out benchmarks/results/zeroshot --figures
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from denoisekit import io
from denoisekit.api import denoise
from denoisekit.bench import image_seed
from denoisekit.figures import zero_shot_figures
from denoisekit.metrics import psnr, ssim
from denoisekit.noise import benchmark_noise, quantize_to_bits
from denoisekit.precision import PRECISIONS, use_bfloat16
from denoisekit.zeroshot.history import RunHistory
from denoisekit.zeroshot.methods import REFINEMENTS


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (the platform's processor string elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def settings(method: str, fields: dict) -> tuple | None:
    """What tells apart two runs of ``method`` besides seed and budget, from a record or the
    arguments: DIP's network shape (older records: depth 5, unshuffle 1), Pixel2Pixel's crop, bank,
    window and similarity (older records: 0, the whole bank), the blend's ZS-N2N budget and weight,
    and the trained methods' last step (older records: none) and arithmetic (older records: float32)."""
    if method == "dip":
        return (fields["finest"], fields.get("depth", 5), fields.get("unshuffle", 1)) if fields.get("finest") else None
    precision, refine = fields.get("precision", "float32"), fields.get("refine", "none")
    if method == "pixel2pixel":
        return fields["crop"], fields["bank"], fields["window"], fields.get("similarity") or 0, refine, precision
    if method == "zs-blend":
        return fields["crop"], fields["zs_iterations"], fields["weight"], refine, precision
    return fields.get("crop"), refine, precision


def _scores(clean: np.ndarray, image: np.ndarray) -> tuple[float, float]:
    stored = quantize_to_bits(image, 8)
    return round(psnr(clean, stored), 3), round(ssim(clean, stored), 4)


def run_dip(clean: np.ndarray, noisy: np.ndarray, args: argparse.Namespace, seed: int) -> tuple[dict, RunHistory]:
    history = RunHistory()
    params = {"iterations": args.dip_iterations, "width": args.width, "finest": args.finest, "seed": seed}
    params |= {"depth": args.depth, "unshuffle": args.unshuffle}
    params |= {"patience": args.patience, "lr": args.lr, "minutes": args.dip_minutes}
    params |= {"stop": args.stop} if args.stop else {}
    start = time.perf_counter()
    denoise(noisy, "dip", args.sigma, device=args.device, reference=clean, history=history, **params)
    seconds = time.perf_counter() - start
    fit = history.fits[0]
    stop = fit.stopped_at or fit.iterations
    picked_psnr, picked_ssim = _scores(clean, fit.images["picked"])
    record = {
        "rule": fit.rule,
        "iterations": fit.iterations,
        "width": args.width,
        "finest": args.finest,
        "depth": args.depth,
        "unshuffle": args.unshuffle,
        "lr": args.lr,
        "minutes": args.dip_minutes,
        "seed": seed,
        "best_iter": fit.best,
        "best_psnr": _scores(clean, fit.images["best"])[0],
        "picked_iter": fit.picked,
        "stop_iter": stop,
        "psnr": picked_psnr,
        "ssim": picked_ssim,
        "gap_db": round(_scores(clean, fit.images["best"])[0] - picked_psnr, 3),
        "last_psnr": _scores(clean, fit.images["last"])[0],
        "seconds": round(seconds, 1),
        # Per-iteration cost is constant, so the time a no-reference run takes is pro rata.
        "seconds_no_reference": round(seconds * stop / fit.iterations, 1),
    }
    return record, history


def run_trained(
    method: str, clean: np.ndarray, noisy: np.ndarray, args: argparse.Namespace, seed: int
) -> tuple[dict, np.ndarray, RunHistory | None]:
    """One run of a method that trains a fixed number of steps (``zs-n2n``, ``pixel2pixel``,
    ``zs-blend``). ``zs-blend`` fills a history: its members and share, for the figures (the
    reference only labels them; the output does not depend on it)."""
    start = time.perf_counter()
    params = {"iterations": budget(method, args), "crop": args.crop, "precision": args.precision, "seed": seed}
    params["refine"] = args.refine
    history, extra = None, {}
    if method == "zs-blend":
        params |= {"zs_iterations": args.zs_iterations, "weight": args.weight}
        history = RunHistory()
        extra = {"reference": clean, "history": history}
    else:
        params |= {"views": args.zs_views}
    if method == "pixel2pixel":
        params |= {"bank": args.bank, "window": args.window, "similarity": args.similarity}
    out = denoise(noisy, method, device=args.device, **params, **extra)
    seconds = time.perf_counter() - start
    value, structure = _scores(clean, out)
    record = {**params, "psnr": value, "ssim": structure}
    record["seconds"] = record["seconds_no_reference"] = round(seconds, 1)
    return record, out, history


def budget(method: str, args: argparse.Namespace) -> int:
    """The iteration budget the arguments give ``method``."""
    if method == "zs-blend":  # Pixel2Pixel's steps; ZS-N2N's are a setting (see settings())
        return args.p2p_iterations
    return {"dip": args.dip_iterations, "zs-n2n": args.zs_iterations, "pixel2pixel": args.p2p_iterations}[method]


def summary_table(records: list[dict]) -> str:
    """Markdown: one row per image, method and setting, repetitions (seeds) averaged."""
    lines = [
        "| image | method | PSNR no-ref (dB) | oracle best (dB) | gap (dB) | last (dB) | picked / best iter"
        " | stop iter | s (no-ref) | s (whole run) | reps |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def group(r: dict) -> tuple:  # runs differing only in their seed are repetitions
        return r["dataset"], r["image"], r["method"], r["iterations"], str(settings(r["method"], r))

    keys = sorted({group(r) for r in records})
    for key in keys:
        dataset, image, method = key[:3]
        rows = [r for r in records if group(r) == key]

        def mean(field: str, digits: int = 2, rows: list[dict] = rows) -> str:
            values = [r[field] for r in rows if r.get(field) is not None]
            return f"{np.mean(values):.{digits}f}" if values else "–"

        iters = ", ".join(f"{r['picked_iter']}/{r['best_iter']}" for r in rows) if method == "dip" else "–"
        stop = mean("stop_iter", 0) if method == "dip" else str(rows[0]["iterations"])
        lines.append(
            f"| {dataset}/{image} | {method} | {mean('psnr')} | {mean('best_psnr')} | {mean('gap_db')} "
            f"| {mean('last_psnr')} | {iters} | {stop} | {mean('seconds_no_reference', 0)} | {mean('seconds', 0)} "
            f"| {len(rows)} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", nargs="+", required=True, help="clean images")
    parser.add_argument("--dataset", required=True, help="dataset name (part of the noise seed, as in bench)")
    parser.add_argument("--sigma", type=float, default=25.0)
    methods = ["dip", "zs-n2n", "pixel2pixel", "zs-blend"]
    parser.add_argument("--methods", nargs="+", default=["dip", "zs-n2n"], choices=methods)
    parser.add_argument("--repeats", type=int, default=1, help="repetitions (seeds 0, 1, ...) per image and method")
    parser.add_argument("--dip-iterations", type=int, default=1500)
    parser.add_argument("--dip-minutes", type=float, help="DIP wall-time budget per fit")
    parser.add_argument("--width", type=int, default=128, help="DIP channels at the coarser levels")
    parser.add_argument("--finest", type=int, default=8, help="DIP channels at the finest level")
    parser.add_argument("--depth", type=int, default=5, help="DIP levels")
    parser.add_argument("--unshuffle", type=int, default=1, help="DIP fits unshuffle² phase images (1: the image)")
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--patience", type=int, default=300)
    parser.add_argument("--stop", help="DIP's no-reference rule (default: the method's)")
    parser.add_argument("--zs-iterations", type=int, default=2000)
    parser.add_argument("--crop", type=int, help="training crop side (default: each method's, on a CPU 64 or 128)")
    parser.add_argument("--zs-views", type=int, default=8, help="ZS-N2N, Pixel2Pixel: 1 (sessions 2-4), or 8 views")
    parser.add_argument("--p2p-iterations", type=int, default=3000)
    parser.add_argument("--bank", type=int, default=8, help="Pixel2Pixel: similar pixels kept per pixel")
    parser.add_argument("--similarity", type=float, default=1.0, help="Pixel2Pixel: 0 draws from the whole bank")
    parser.add_argument("--window", type=int, default=31, help="Pixel2Pixel: search window side")
    parser.add_argument("--weight", type=float, help="zs-blend: Pixel2Pixel's share (default: per pixel)")
    parser.add_argument(
        "--refine", choices=REFINEMENTS, default="wiener", help="ZS-N2N, Pixel2Pixel, zs-blend: the last step"
    )
    parser.add_argument("--precision", choices=PRECISIONS, default="auto", help="ZS-N2N, Pixel2Pixel, zs-blend")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--figures", action="store_true", help="curves, spectra and crops per image (first seed)")
    parser.add_argument("--out", default="benchmarks/results/zeroshot")
    args = parser.parse_args()
    args.precision = "bfloat16" if use_bfloat16(args.precision, args.device) else "float32"  # as recorded

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "results.jsonl"
    done = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    seen = {(r["dataset"], r["image"], r["method"], r["seed"], settings(r["method"], r), r["iterations"]) for r in done}
    hardware = {
        "cpu": cpu_model(),
        "threads": args.threads,
        "device": args.device if args.device == "cpu" else torch.cuda.get_device_name(),
    }
    for path in map(Path, args.images):
        clean, _ = io.read_image(path)
        noisy = benchmark_noise(clean, args.sigma, image_seed(args.dataset, path.name, args.sigma, 0))
        for method in args.methods:
            for seed in range(args.repeats):
                key = (args.dataset, path.stem, method, seed, settings(method, vars(args)), budget(method, args))
                if key in seen:
                    continue
                if method == "dip":
                    result, history = run_dip(clean, noisy, args, seed)
                    output = history.fits[0].images["picked"]
                else:
                    result, output, history = run_trained(method, clean, noisy, args, seed)
                record = {"dataset": args.dataset, "image": path.stem, "method": method, "sigma": args.sigma}
                record |= result | hardware
                with open(log, "a") as handle:
                    handle.write(json.dumps(record) + "\n")
                print(json.dumps(record), flush=True)
                if args.figures and seed == 0:
                    zero_shot_figures(out / "figures", f"{path.stem}_{method}", noisy, output, clean, history)
    _write_tables(out)


def _write_tables(out: Path) -> None:
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    fields = list(dict.fromkeys(k for r in records for k in r))
    with open(out / "results.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fields)
        writer.writeheader()
        writer.writerows(records)
    (out / "summary.md").write_text(summary_table(records) + "\n")
    print(summary_table(records))


if __name__ == "__main__":
    main()
