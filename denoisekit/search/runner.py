"""The NAS-DIP search loop: propose, evaluate in parallel, log, learn, checkpoint, report.

One controller step proposes ``per_step`` genotypes; those not yet evaluated (cached by
:meth:`~denoisekit.search.space.Genotype.hash`) are scored on the proxy budget by an executor
(:mod:`denoisekit.search.executors`), and each result is appended to ``OUT/log.jsonl`` the
moment it exists. Then the strategy learns from the step's rewards and is checkpointed to
``OUT/controller.pt``. A search killed at any point and rerun with the same ``out`` resumes:
the settings must match ``OUT/search.json``, the strategy is restored from the checkpoint,
the step in progress is proposed again (proposals depend on the seed, the step and the
strategy's state only) and whatever the log holds is taken from it, not re-evaluated.

Files in ``out``:

``search.json``   the settings (what makes rewards comparable) and which reward is used
``log.jsonl``     one record per trial: genotype, hash, reward and its kind, per-image
                  rewards, wall seconds, controller step, whether it came from the cache
``controller.pt`` the strategy's state after the last finished step, and per-step metrics
``best_arch.json`` the best genotype (``denoisekit denoise -m nas-dip --arch``), with its record
``rewards.png``   reward per trial and the running best
``top.md``        the best distinct architectures, as a Markdown table

Examples
--------
>>> import tempfile, numpy as np, denoisekit as dk
>>> with tempfile.TemporaryDirectory() as folder:
...     _ = dk.write_image(f"{folder}/clean.png", np.full((16, 16), 0.5, dtype=np.float32))
...     result = run_search(f"{folder}/out", images=[f"{folder}/clean.png"], sigma=25, trials=2,
...                         iterations=2, size=16, depth=2, finest=4, width=4, strategy="random")
...     result.trials, result.reward
(2, 'psnr')
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from denoisekit import io
from denoisekit.errors import InputError
from denoisekit.noise import benchmark_noise
from denoisekit.registry import Progress
from denoisekit.search.space import MAX_DEPTH, Genotype, write_genotype
from denoisekit.validation import check_sigma

LOG, SETTINGS, CHECKPOINT = "log.jsonl", "search.json", "controller.pt"
BEST, PLOT, TABLE = "best_arch.json", "rewards.png", "top.md"
PROXIES = ("crop", "downscale")
REWARD_TEXT = {
    "psnr": "PSNR (dB) of the DIP output after the whole budget against the clean image (benchmark mode)",
    "self-validation": "self-validation: 10·log10(1/MSE) against the noisy image on held-out pixels (no reference)",
}


@dataclass
class SearchResult:
    """What a search (or the part of it this run did) produced."""

    out: Path
    reward: str
    #: Trials in the log, this run's and earlier runs'.
    trials: int
    #: Candidates this run actually fitted (not from the log or the cache).
    evaluated: int
    #: Trials the log held when this run started.
    resumed: int
    #: Whether the progress callback stopped the search before ``trials``.
    stopped: bool
    best: dict | None
    seconds: float
    files: dict[str, Path] = field(default_factory=dict)

    def summary(self) -> str:
        """A few lines for people: the best trial, where the files are."""
        lines = [f"{self.trials} trials ({self.evaluated} evaluated in this run, {self.resumed} from the log)"]
        if self.best:
            lines.append(
                f"best: trial {self.best['trial']}  reward {self.best['reward']:.3f} ({self.reward})"
                f"  {self.best['hash']}"
            )
        lines += [f"{name}: {path}" for name, path in self.files.items()]
        return "\n".join(lines)


def read_log(path: str | os.PathLike) -> list[dict]:
    """The records of a search log. A last line torn by a kill is dropped, and the file is
    rewritten without it so that the next record starts on a line of its own."""
    path = Path(path)
    if not path.exists():
        return []
    text = path.read_text()
    lines = text.splitlines()
    records = []
    for number, line in enumerate(lines, start=1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if number < len(lines):
                raise InputError(f"{path}:{number}: not a JSON record; the search log is damaged") from None
    if text and (len(records) < len(lines) or not text.endswith("\n")):
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return records


def logged_trials(out: str | os.PathLike) -> int:
    """How many trials ``out``'s log holds (0 for a new search)."""
    path = Path(out) / LOG
    return sum(1 for line in path.read_text().splitlines() if line.strip()) if path.exists() else 0


def _append(path: Path, record: dict) -> None:
    with open(path, "a") as handle:
        handle.write(json.dumps(record) + "\n")
        handle.flush()
        os.fsync(handle.fileno())  # a record counts once it is on disk


def _proxy(image: np.ndarray, size: int, proxy: str) -> np.ndarray:
    if proxy == "crop":
        from denoisekit.figures import centre_crop

        return np.ascontiguousarray(centre_crop(image, size))
    scale = size / max(image.shape[:2])
    if scale >= 1:
        return image
    from skimage.transform import resize

    shape = (max(1, round(image.shape[0] * scale)), max(1, round(image.shape[1] * scale)), image.shape[2])
    return resize(image, shape, order=1, anti_aliasing=True).astype(np.float32)


def _check(settings: dict[str, Any], trials: int, workers: int) -> None:
    """Every option in range, or an InputError naming it."""
    limits = {
        "trials": (trials, 1, None),
        "iterations": (settings["iterations"], 1, None),
        "size": (settings["size"], 8, None),
        "per_step": (settings["per_step"], 1, None),
        "depth": (settings["depth"], 1, MAX_DEPTH),
        "finest": (settings["finest"], 1, 1024),
        "width": (settings["width"], 1, 1024),
        "workers": (workers, 1, None),
    }
    for name, (value, low, high) in limits.items():
        if not isinstance(value, int) or value < low or (high is not None and value > high):
            bound = f"in [{low}, {high}]" if high else f"at least {low}"
            raise InputError(f"{name}={value!r}: must be an integer {bound}")
    if settings["proxy"] not in PROXIES:
        raise InputError(f"proxy={settings['proxy']!r}: choose one of {', '.join(PROXIES)}")
    if not settings["lr"] > 0:
        raise InputError(f"lr={settings['lr']!r}: must be positive")
    holdout = settings["holdout"]
    if holdout is not None and not 0 < holdout <= 0.5:
        raise InputError(f"holdout={holdout!r}: the held-out fraction must be in (0, 0.5]")


def _prepare(settings: dict[str, Any]) -> tuple:
    """The proxy images of the scoring task, from the files the settings name."""
    from denoisekit.bench import image_seed
    from denoisekit.search.scoring import ProxyImage
    from denoisekit.zeroshot.stopping import holdout_mask

    prepared = []
    for number, path in enumerate(settings["images"]):
        image = _proxy(io.read_image(path)[0], settings["size"], settings["proxy"])
        name = f"{number}:{Path(path).name}"
        if settings["reward"] == "psnr":
            noisy = benchmark_noise(
                image, settings["sigma"], image_seed("nas-dip", name, settings["sigma"], settings["seed"])
            )
            prepared.append(ProxyImage(name, noisy, clean=image))
        else:
            mask = holdout_mask(*image.shape[:2], settings["holdout"], seed=settings["seed"])
            prepared.append(ProxyImage(name, image, held_out=mask))
    return tuple(prepared)


def _task(settings: dict[str, Any], device: str) -> Any:
    """The :class:`~denoisekit.search.scoring.ScoringTask` a search's settings describe."""
    from denoisekit.search.scoring import ScoringTask

    budget = (settings["iterations"], settings["finest"], settings["width"], settings["lr"], settings["seed"])
    return ScoringTask(_prepare(settings), *budget, device)


def _settings(
    images: Sequence[str | os.PathLike] | None, sigma: float | None, noisy: str | os.PathLike | None, **options: Any
) -> dict[str, Any]:
    if (images is None) == (noisy is None):
        raise InputError("give clean images with a noise level (benchmark mode) or one noisy image, not both")
    if noisy is not None:
        if sigma is not None:
            raise InputError("sigma is for clean images (noise is added to them); a noisy image keeps its own noise")
        paths, reward = [noisy], "self-validation"
    else:
        if not images:
            raise InputError("no search images given")
        if sigma is None:
            raise InputError("clean search images need a noise level (--sigma)")
        paths, reward = list(images), "psnr"
    for path in paths:
        if not Path(path).is_file():
            raise InputError(f"{path}: no such image")
    options["holdout"] = options["holdout"] if reward == "self-validation" else None
    return {
        "reward": reward,
        "images": [str(Path(p).resolve()) for p in paths],
        "sigma": check_sigma(sigma),
        **options,
    }


def _resume_check(path: Path, settings: dict[str, Any]) -> None:
    """A log only resumes under the settings it was written with (its rewards would not compare)."""
    if not path.exists():
        return
    try:
        old = json.loads(path.read_text())
    except json.JSONDecodeError:
        raise InputError(f"{path}: not valid JSON; is this folder a search's output?") from None
    for key, value in settings.items():
        if old.get(key) != value:
            raise InputError(
                f"{path.parent} holds a search with {key}={old.get(key)!r}, not {value!r}:"
                " its rewards would not compare; rerun with the same settings or another --out"
            )


def run_search(
    out: str | os.PathLike,
    *,
    images: Sequence[str | os.PathLike] | None = None,
    sigma: float | None = None,
    noisy: str | os.PathLike | None = None,
    trials: int,
    iterations: int,
    size: int = 64,
    proxy: str = "crop",
    strategy: str = "rl",
    workers: int = 1,
    ray: str | None = None,
    per_step: int = 4,
    depth: int = 5,
    shared: bool = False,
    finest: int = 8,
    width: int = 64,
    lr: float = 0.01,
    seed: int = 0,
    holdout: float = 0.2,
    controller_lr: float = 0.02,
    entropy_weight: float = 0.01,
    baseline_decay: float = 0.9,
    device: str = "cpu",
    top: int = 10,
    progress: Progress | None = None,
) -> SearchResult:
    """Search DIP decoders (NAS-DIP) and write the log, the best genotype, a plot and a table.

    Parameters
    ----------
    out : path
        Output folder; one holding a search's log resumes it (same settings required).
    images, sigma : optional
        Clean search images and the noise level (0–255) added to them: reward = PSNR against
        the clean image (benchmark mode).
    noisy : path, optional
        Instead, one real noisy image: reward = self-validation on held-out pixels.
    trials : int
        Candidates to propose in all (a rerun with more continues the search).
    iterations : int
        DIP iterations per candidate and image (the proxy budget).
    size, proxy : int, str
        Each image is centre-cropped (``crop``) or downscaled (``downscale``) to ``size`` pixels
        (downscaling a noisy image also averages its noise down: prefer ``crop`` with ``noisy``).
    strategy : str
        ``rl`` (LSTM controller, REINFORCE) or ``random``.
    workers, ray : int, str
        Local worker processes (1: in this process), or a Ray address (``local`` for a Ray
        instance on this machine with ``workers`` CPUs).
    per_step : int
        Candidates per controller step, evaluated in parallel.
    depth, shared : int, bool
        Levels of the networks, and one cell for all decoder levels instead of one each.
    finest, width, lr, seed : int, int, float, int
        Proxy channel widths (finest level, cap), Adam's learning rate, and the seed of the
        networks, codes, noise, held-out pixels and proposals.
    holdout : float
        Fraction of held-out pixels (``noisy`` only).
    controller_lr, entropy_weight, baseline_decay : float
        REINFORCE settings (``rl`` only).
    device : str
        Torch device of the fits (``cpu``, ``cuda``).
    top : int
        Rows of ``top.md``.
    progress : callable, optional
        ``progress(trials_done, trials, {"reward", "best", "step"})`` after each trial;
        returning False stops the search cleanly (rerun to resume).

    Returns
    -------
    SearchResult
    """
    from denoisekit.search.executors import make_executor
    from denoisekit.search.scoring import score_candidate
    from denoisekit.search.strategies import make_strategy

    start = time.perf_counter()
    controller = {"lr": controller_lr, "entropy_weight": entropy_weight, "baseline_decay": baseline_decay}
    settings = _settings(
        images,
        sigma,
        noisy,
        size=size,
        proxy=proxy,
        iterations=iterations,
        depth=depth,
        shared=shared,
        finest=finest,
        width=width,
        lr=lr,
        seed=seed,
        holdout=holdout,
        strategy=strategy,
        per_step=per_step,
        controller=controller if strategy == "rl" else None,
    )
    _check(settings, trials, workers)
    options = {"lr": controller_lr, "baseline_decay": baseline_decay, "entropy_weight": entropy_weight}
    searcher = make_strategy(strategy, depth, shared, seed, **(options if strategy == "rl" else {}))
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: the search's output is a folder, but this is a file")
    _resume_check(out / SETTINGS, settings)
    task = _task(settings, device)
    out.mkdir(parents=True, exist_ok=True)
    (out / SETTINGS).write_text(json.dumps(settings, indent=2) + "\n")

    log = out / LOG
    records = read_log(log)
    resumed = len(records)
    done = {r["trial"]: r for r in records}
    cache = {r["hash"]: r for r in records if not r["cached"]}
    step, proposed, history = 0, 0, []  # the next step, and the trials of the steps before it
    if (out / CHECKPOINT).exists():
        import torch

        state = torch.load(out / CHECKPOINT, weights_only=True)
        searcher.load_state_dict(state["strategy"])
        step, proposed, history = state["step"], state["proposed"], state["history"]

    evaluated, stopped, kind = 0, False, settings["reward"]
    best = max((r["reward"] for r in records), default=-math.inf)

    def keep(record: dict) -> bool:
        """Log a new trial; False when the user asked to stop."""
        nonlocal best
        _append(log, record)
        records.append(record)
        best = max(best, record["reward"])
        metrics = {"reward": record["reward"], "best": best, "step": float(record["step"])}
        return progress is None or progress(len(records), trials, metrics) is not False

    with make_executor(workers, ray) as executor:
        while proposed < trials:
            count = min(per_step, trials - proposed)
            genotypes = searcher.propose(step, count)
            step_records: list[dict | None] = [None] * count
            fresh: dict[str, list[int]] = {}  # hash → positions in this step needing it
            for index, genotype in enumerate(genotypes):
                if proposed + index in done:
                    step_records[index] = done[proposed + index]
                    genotypes[index] = Genotype.from_dict(step_records[index]["genotype"])
                elif genotype.hash() in cache:
                    step_records[index] = _record(step, proposed + index, genotype, cache[genotype.hash()], True, kind)
                    if not keep(step_records[index]):
                        stopped = True
                        break
                else:
                    fresh.setdefault(genotype.hash(), []).append(index)
            if not stopped and fresh:
                jobs = [(genotypes[positions[0]].to_dict(), task) for positions in fresh.values()]
                for job, outcome in executor.map_unordered(score_candidate, jobs):
                    evaluated += 1
                    positions = list(fresh.values())[job]
                    for number, index in enumerate(positions):
                        trial = proposed + index
                        step_records[index] = _record(step, trial, genotypes[index], outcome, number > 0, kind)
                        cache.setdefault(step_records[index]["hash"], step_records[index])
                        stopped = stopped or not keep(step_records[index])
                    if stopped:
                        break
            if stopped:
                break
            rewards = [r["reward"] for r in step_records]
            metrics = searcher.update(genotypes, rewards)
            history.append({"step": step, "mean_reward": float(np.mean(rewards)), **metrics})
            step, proposed = step + 1, proposed + count
            _checkpoint(out / CHECKPOINT, {"step": step, "proposed": proposed, "history": history}, searcher)

    files = write_reports(out, records, settings, top) if records else {}
    result_best = max(records, key=lambda r: r["reward"]) if records else None
    seconds = time.perf_counter() - start
    return SearchResult(out, settings["reward"], len(records), evaluated, resumed, stopped, result_best, seconds, files)


def score_genotype(out: str | os.PathLike, genotype: Genotype, device: str = "cpu") -> dict:
    """Score ``genotype`` under the proxy budget of the search in ``out`` (its ``search.json``).

    The reward is on the search's scale, so a hand-made network (the standard DIP decoder,
    :func:`~denoisekit.search.space.default_genotype`) can be set beside the searched ones.

    Returns
    -------
    dict
        As :func:`~denoisekit.search.scoring.score_candidate`: ``reward``, ``per_image``,
        ``seconds``, ``parameters``.
    """
    from denoisekit.search.scoring import score_candidate

    path = Path(out) / SETTINGS
    if not path.is_file():
        raise InputError(f"{out}: no search here (no {SETTINGS})")
    return score_candidate(genotype.to_dict(), _task(json.loads(path.read_text()), device))


def _record(step: int, trial: int, genotype: Genotype, outcome: dict, cached: bool, reward: str) -> dict:
    """One log line; ``outcome`` is a scoring result or the record it was cached from."""
    return {
        "trial": trial,
        "step": step,
        "hash": genotype.hash(),
        "genotype": genotype.to_dict(),
        "reward": outcome["reward"],
        "reward_kind": reward,
        "per_image": outcome["per_image"],
        "seconds": 0.0 if cached else outcome["seconds"],
        "parameters": outcome["parameters"],
        "cached": cached,
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _checkpoint(path: Path, progress: dict, strategy: Any) -> None:
    import torch

    partial = path.with_suffix(".tmp")
    torch.save({**progress, "strategy": strategy.state_dict()}, partial)
    os.replace(partial, path)  # never a half-written checkpoint


def top_table(records: list[dict], settings: dict[str, Any], top: int = 10) -> str:
    """Markdown: the ``top`` best distinct architectures (by hash), with how they were scored."""
    best: dict[str, dict] = {}
    sampled: dict[str, int] = {}
    for record in records:
        sampled[record["hash"]] = sampled.get(record["hash"], 0) + 1
        if record["hash"] not in best or record["reward"] > best[record["hash"]]["reward"]:
            best[record["hash"]] = record
    ranked = sorted(best.values(), key=lambda r: -r["reward"])[:top]
    evaluated = [r for r in records if not r["cached"]]
    lines = [
        f"# NAS-DIP search: top {len(ranked)} of {len(best)} distinct architectures ({len(records)} trials)",
        "",
        f"Reward: {REWARD_TEXT[settings['reward']]}, mean over {len(settings['images'])} image(s)"
        + (f" at sigma {settings['sigma']:g}" if settings["sigma"] else "")
        + ".",
        f"Proxy budget: {settings['proxy']} to {settings['size']} px, {settings['iterations']} iterations,"
        f" channels {settings['finest']} to {settings['width']}, depth {settings['depth']}"
        f" ({'one shared cell' if settings['shared'] else 'one cell per level'}); strategy {settings['strategy']},"
        f" {settings['per_step']} candidates per step; {len(evaluated)} fits,"
        f" {sum(r['seconds'] for r in evaluated):.0f} s of worker time.",
        "",
        "| rank | trial | step | reward | sampled | fit s | parameters | hash | level: cell +{encoder levels} |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for rank, record in enumerate(ranked, start=1):
        genotype = Genotype.from_dict(record["genotype"])
        lines.append(
            f"| {rank} | {record['trial']} | {record['step']} | {record['reward']:.3f} | {sampled[record['hash']]}"
            f" | {record['seconds']:.1f} | {record['parameters']} | `{record['hash']}` | {genotype.describe()} |"
        )
    return "\n".join(lines) + "\n"


def write_reports(out: Path, records: list[dict], settings: dict[str, Any], top: int = 10) -> dict[str, Path]:
    """Write ``best_arch.json``, ``rewards.png`` and ``top.md`` from the log's records."""
    from denoisekit.figures import reward_curve_figure

    best = max(records, key=lambda r: r["reward"])
    info = {key: best[key] for key in ("trial", "step", "hash", "reward", "per_image")}
    info |= {"reward_kind": settings["reward"], "search": str(out.resolve())}
    info |= {k: settings[k] for k in ("iterations", "size", "proxy", "finest", "width", "sigma")}
    files = {"best_arch": write_genotype(out / BEST, Genotype.from_dict(best["genotype"]), info), "log": out / LOG}
    rewards = [r["reward"] for r in sorted(records, key=lambda r: r["trial"])]
    label = "reward: PSNR against clean (dB)" if settings["reward"] == "psnr" else "reward: self-validation (dB)"
    files["plot"] = reward_curve_figure({settings["strategy"]: rewards}, out / PLOT, label)
    (out / TABLE).write_text(top_table(records, settings, top))
    files["table"] = out / TABLE
    return files
