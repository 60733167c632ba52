"""NAS-DIP (issue 7): search on a few images, then compare the searched network with the standard
DIP network at equal iterations on images the search never saw, and RL with random search.

1. Search: ``denoisekit.run_search`` once per strategy (``rl``, ``random``) with the same
   trials, proxy budget and seed, on centre crops of the search images at σ (benchmark mode:
   reward = PSNR against the clean crop). Each search lives in ``OUT/search_<strategy>/`` and
   resumes when rerun.
2. Reward curves: reward per trial and running best of both strategies in one figure
   (``OUT/reward_curves.png``), and a table of the best reward after a quarter, half and all
   of the trials, beside the reward of the standard DIP decoder under the same proxy budget
   (``OUT/reference.json``).
3. Evaluation: on each evaluation image (noise as ``denoisekit bench``: clipped 8-bit, the
   same per-image seeds), ``dip`` (the standard skip network) and ``nas-dip`` with each
   search's ``best_arch.json`` run the same number of iterations with the same channel widths
   and seeds, in oracle mode; the table gives PSNR of the last output (8-bit) and the oracle
   best, and the searched-minus-standard difference. Records go to ``OUT/eval.jsonl`` (a rerun
   skips what is there); ``OUT/summary.md`` is rewritten at the end. ``--eval-stop
   self-validation`` evaluates what a user without the clean image gets instead
   (``OUT/summary_self-validation.md``).

    python benchmarks/nas_dip.py --trials 4 --iterations 50 --size 64 --eval-iterations 50 \
        --eval-size 64 --threads 1 --out runs/nas_dip_smoke           # the smoke run
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from zeroshot import _scores, cpu_model  # the zero-shot benchmark's 8-bit scoring and CPU name

from denoisekit import io
from denoisekit.api import denoise
from denoisekit.bench import image_seed
from denoisekit.figures import centre_crop, reward_curve_figure
from denoisekit.noise import benchmark_noise
from denoisekit.search import run_search, score_genotype
from denoisekit.search.runner import read_log
from denoisekit.search.space import default_genotype, read_genotype
from denoisekit.zeroshot.history import RunHistory

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SEARCH_IMAGES = [DATA / "set12" / f"{n}.png" for n in ("03", "04", "05")]
EVAL_IMAGES = [DATA / "misc" / "F16_GT.png", DATA / "misc" / "sailboat_4.2.06.tiff"] + [
    DATA / "set12" / f"{n}.png" for n in ("01", "02", "07")
]


def search(args: argparse.Namespace, strategy: str) -> dict:
    """Run (or resume) one strategy's search; returns its rewards per trial and wall time."""
    start = time.perf_counter()
    result = run_search(
        args.out / f"search_{strategy}",
        images=args.search_images,
        sigma=args.sigma,
        trials=args.trials,
        iterations=args.iterations,
        size=args.size,
        strategy=strategy,
        workers=args.workers,
        per_step=args.per_step,
        depth=args.depth,
        finest=args.finest,
        width=args.width,
        seed=args.seed,
        device=args.device,
    )
    records = sorted(read_log(result.out / "log.jsonl"), key=lambda r: r["trial"])
    return {
        "strategy": strategy,
        "rewards": [r["reward"] for r in records],
        "fit_seconds": sum(r["seconds"] for r in records),
        "wall_seconds_this_run": time.perf_counter() - start,
        "best_arch": result.out / "best_arch.json",
    }


def reference(args: argparse.Namespace) -> dict:
    """The standard DIP decoder (as a genotype) scored under the searches' proxy budget, once."""
    path = args.out / "reference.json"
    if not path.exists():
        result = score_genotype(args.out / f"search_{args.strategies[0]}", default_genotype(args.depth), args.device)
        path.write_text(json.dumps(result) + "\n")
    return json.loads(path.read_text())


def evaluate(args: argparse.Namespace, arches: dict[str, Path]) -> list[dict]:
    """Standard DIP and each searched network at equal iterations, widths and seeds; returns the records
    of this configuration (logged earlier or now)."""
    log = args.out / "eval.jsonl"
    logged = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    records = []  # this configuration's (a longer search may have found another best network)
    methods = {"dip": None} | {f"nas-dip ({name})": path for name, path in arches.items()}
    for path in args.eval_images:
        clean, _ = io.read_image(path)
        if args.eval_size:
            clean = np.ascontiguousarray(centre_crop(clean, args.eval_size))
        dataset = path.parent.name
        noisy = benchmark_noise(clean, args.sigma, image_seed(dataset, path.name, args.sigma, 0))
        for label, arch in methods.items():
            hash_ = read_genotype(arch).hash() if arch else "skip-net"
            for seed in range(args.repeats):
                key = {"image": f"{dataset}/{path.stem}", "method": label, "arch": hash_, "seed": seed}
                key |= {"iterations": args.eval_iterations, "size": args.eval_size or "full"}
                same = [r for r in logged if r.get("stop", "none") == args.eval_stop]
                found = [r for r in same if all(r.get(k) == v for k, v in key.items())]
                if found:
                    records.append(found[0])
                    continue
                params = {"iterations": args.eval_iterations, "width": args.eval_width, "finest": args.eval_finest}
                params |= {"seed": seed, "stop": args.eval_stop} | ({"arch": str(arch)} if arch else {})
                history = RunHistory()
                start = time.perf_counter()
                output = denoise(
                    noisy, "nas-dip" if arch else "dip", args.sigma, device=args.device, reference=clean,
                    history=history, **params,
                )  # fmt: skip
                fit = history.fits[0]
                record = key | {
                    "stop": args.eval_stop,
                    "last_psnr": _scores(clean, fit.images["last"])[0],
                    "returned_psnr": _scores(clean, output)[0],
                    "picked_iter": fit.picked,
                    "best_psnr": _scores(clean, fit.images["best"])[0],
                    "best_iter": fit.best,
                    "seconds": round(time.perf_counter() - start, 1),
                    "cpu": cpu_model(),
                    "threads": args.threads,
                }
                with open(log, "a") as handle:
                    handle.write(json.dumps(record) + "\n")
                print(json.dumps(record), flush=True)
                records.append(record)
    return records


def returned(record: dict) -> float:
    """PSNR of what the method returned (records from before stopping rules hold the last output only)."""
    return record.get("returned_psnr", record["last_psnr"])


def summary(args: argparse.Namespace, searches: list[dict], standard: dict, records: list[dict]) -> str:
    """Markdown: the budgets, the reward curves at a few points, and the evaluation."""
    lines = [
        f"Search: {len(args.search_images)} images ({', '.join(p.name for p in args.search_images)}), centre crops"
        f" {args.size}², sigma {args.sigma:g}, reward = PSNR against the clean crop (benchmark mode);"
        f" {args.trials} trials per strategy, {args.iterations} DIP iterations per candidate and image, channels"
        f" {args.finest}–{args.width}, depth {args.depth}, {args.per_step} candidates per step, seed {args.seed}.",
        "",
        "| strategy | best after 1/4 | 1/2 | all trials | mean reward, last half | fit seconds (sum) |",
        "|---|---|---|---|---|---|",
    ]
    for run in searches:
        rewards = run["rewards"]
        points = [max(rewards[: max(1, round(len(rewards) * f))]) for f in (0.25, 0.5, 1.0)]
        late = np.mean(rewards[len(rewards) // 2 :])
        lines.append(
            f"| {run['strategy']} | {points[0]:.2f} | {points[1]:.2f} | {points[2]:.2f} | {late:.2f}"
            f" | {run['fit_seconds']:.0f} |"
        )
    lines += [
        "",
        f"The standard DIP decoder, written as a genotype and scored the same way, gets {standard['reward']:.2f}.",
    ]
    lines += [
        "",
        f"Evaluation: {args.eval_iterations} iterations, channels {args.eval_finest}–{args.eval_width},"
        f" {'centre crops ' + str(args.eval_size) + '²' if args.eval_size else 'whole images'}, sigma {args.sigma:g},"
        f" {args.repeats} seed(s), PSNR of 8-bit outputs (dB). Returned: the output the stopping rule"
        f" ({args.eval_stop}) picks{' (the last)' if args.eval_stop == 'none' else ''}.",
        "",
        "| image | method | returned | oracle best | Δ returned vs dip | s |",
        "|---|---|---|---|---|---|",
    ]
    images = sorted({r["image"] for r in records})
    methods = sorted({r["method"] for r in records}, key=lambda m: (m != "dip", m))
    deltas: dict[str, list[float]] = {m: [] for m in methods}
    for image in images:
        mean = {m: np.mean([returned(r) for r in records if r["image"] == image and r["method"] == m]) for m in methods}
        for method in methods:
            rows = [r for r in records if r["image"] == image and r["method"] == method]
            delta = mean[method] - mean["dip"]
            deltas[method].append(delta)
            best = np.mean([r["best_psnr"] for r in rows])
            seconds = np.mean([r["seconds"] for r in rows])
            lines.append(f"| {image} | {method} | {mean[method]:.2f} | {best:.2f} | {delta:+.2f} | {seconds:.0f} |")
    lines.append("")
    lines += [f"Mean Δ (returned) of {m} against dip: {np.mean(deltas[m]):+.2f} dB" for m in methods if m != "dip"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--search-images", nargs="+", type=Path, default=SEARCH_IMAGES)
    parser.add_argument("--eval-images", nargs="+", type=Path, default=EVAL_IMAGES)
    parser.add_argument("--sigma", type=float, default=25.0)
    parser.add_argument("--strategies", nargs="+", default=["rl", "random"], choices=["rl", "random"])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--iterations", type=int, default=500, help="DIP iterations per candidate (proxy)")
    parser.add_argument("--size", type=int, default=128, help="proxy crop side")
    parser.add_argument("--per-step", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--depth", type=int, default=5)
    parser.add_argument("--finest", type=int, default=8, help="proxy channels, finest level")
    parser.add_argument("--width", type=int, default=64, help="proxy channels, coarser levels")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-iterations", type=int, default=1500)
    parser.add_argument("--eval-size", type=int, default=0, help="centre-crop evaluation images (0: whole)")
    parser.add_argument("--eval-finest", type=int, default=8)
    parser.add_argument("--eval-width", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=1, help="evaluation seeds per image and method")
    parser.add_argument(
        "--eval-stop", default="none", help="stopping rule of the evaluation fits (none: all iterations, last output)"
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=Path("runs/nas_dip"))
    args = parser.parse_args()
    overlap = {p.resolve() for p in args.search_images} & {p.resolve() for p in args.eval_images}
    if overlap:
        parser.error(f"evaluation images must not be search images: {', '.join(sorted(map(str, overlap)))}")

    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    searches = [search(args, strategy) for strategy in args.strategies]
    reward_curve_figure(
        {run["strategy"]: run["rewards"] for run in searches}, args.out / "reward_curves.png", "reward: PSNR (dB)"
    )
    standard = reference(args)
    records = evaluate(args, {run["strategy"]: run["best_arch"] for run in searches})
    text = summary(args, searches, standard, records)
    (args.out / ("summary.md" if args.eval_stop == "none" else f"summary_{args.eval_stop}.md")).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
