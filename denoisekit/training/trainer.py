"""The one training loop: batches, optimizer, schedule, validation, checkpoints, resume.

Files written next to ``out`` (the weights file, which always holds the best model so far):

- ``out.ckpt``: everything needed to continue (model, optimizer, step, best score), written
  every ``checkpoint_every`` steps, at the end, and when the run is interrupted (Ctrl-C,
  SIGTERM, or the progress callback returning False);
- ``out.csv``: the metrics log (step, loss, learning rate, validation PSNR, seconds);
- ``out.json``: the model card, also stored inside the weights file.
"""

from __future__ import annotations

import csv
import json
import math
import platform
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from denoisekit.errors import InputError
from denoisekit.figures import centre_crop
from denoisekit.metrics import psnr
from denoisekit.models.weights import save_weights
from denoisekit.registry import Progress
from denoisekit.training.data import ImageSet, PatchSampler
from denoisekit.training.objectives import NoiseSpec, effective_sigma
from denoisekit.training.optim import OPTIMIZERS, learning_rate_factor, make_optimizer

Objective = Callable[[nn.Module, list[np.ndarray], np.random.Generator, str], torch.Tensor]


@dataclass
class TrainConfig:
    """Loop settings; the data, model and objective are given separately."""

    steps: int = 1000
    batch_size: int = 16
    patch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    lbfgs_steps: int = 10
    schedule: str = "cosine"
    warmup: int = 0
    seed: int = 0
    val_every: int = 500
    checkpoint_every: int = 200
    log_every: int = 10
    mixed_precision: bool = True  # bfloat16 autocast, on CUDA only

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"unknown optimizer {self.optimizer!r}; choose one of: {', '.join(OPTIMIZERS)}")
        for name in ("steps", "batch_size", "patch_size", "val_every", "checkpoint_every", "log_every"):
            if getattr(self, name) < 1:
                raise InputError(f"{name.replace('_', '-')} must be at least 1, not {getattr(self, name)}")
        if not 0 < self.lr <= 10:
            raise InputError(f"learning rate {self.lr} must be in (0, 10]")
        learning_rate_factor(self.schedule, 0, 1)  # checks the name


@dataclass
class TrainResult:
    """How a run ended."""

    weights: Path
    step: int
    best_psnr: float | None
    best_step: int | None
    seconds: float
    interrupted: bool


class Validator:
    """Mean PSNR of the model on fixed noisy versions of held-out images (centre crops).

    The noise is drawn once from ``seed``, so scores are comparable across steps and resumes.
    ``pairs`` gives real noisy/clean pairs instead of synthetic noise.
    """

    def __init__(
        self,
        clean: ImageSet,
        noise: NoiseSpec | None,
        sigma: float = 25.0,
        crop: int = 256,
        seed: int = 0,
        noisy: ImageSet | None = None,
    ) -> None:
        rng = np.random.default_rng(seed)
        if noisy is None:
            fixed = NoiseSpec(noise.model, (sigma, sigma), noise.levels, noise.unclipped)
        self.items: list[tuple[np.ndarray, np.ndarray, float]] = []
        for index in range(len(clean.images)):
            target = centre_crop(clean.as_float(index), crop)
            if noisy is not None:
                source = centre_crop(noisy.as_float(index), crop)
                level = float(effective_sigma(source[None], target[None])[0])
            else:
                batch, levels = fixed.apply(target.transpose(2, 0, 1)[None], rng)
                source, level = batch[0].transpose(1, 2, 0), float(levels[0])
            self.items.append((source, target, level))

    @torch.inference_mode()
    def __call__(self, model: nn.Module, device: str) -> float:
        was_training = model.training
        model.eval()
        scores = []
        for source, target, level in self.items:
            x = torch.from_numpy(np.ascontiguousarray(source.transpose(2, 0, 1)))[None].to(device)
            out = model(x, torch.tensor([level], device=device)).clamp(0, 1)
            scores.append(psnr(target, out[0].float().cpu().numpy().transpose(1, 2, 0)))
        model.train(was_training)
        return float(np.mean(scores))


def paths_for(out: Path) -> dict[str, Path]:
    """The files a run writes beside its weights file."""
    return {
        "weights": out,
        "checkpoint": out.with_suffix(".ckpt"),
        "log": out.with_suffix(".csv"),
        "card": out.with_suffix(".json"),
    }


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """SIGINT/SIGTERM set an event instead of killing the run, so it can checkpoint first."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda *_: stop.set())
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def hardware() -> str:
    """A short description of where the run happened, for model cards."""
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name}, {torch.get_num_threads()} threads"


def train(
    model: nn.Module,
    sampler: PatchSampler,
    objective: Objective,
    config: TrainConfig,
    out: str | Path,
    *,
    validator: Validator | None = None,
    device: str = "cpu",
    resume: bool = False,
    overwrite: bool = False,
    card: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Train ``model`` for ``config.steps`` steps and write its weights to ``out``.

    Parameters
    ----------
    model : nn.Module
        Built by :func:`denoisekit.models.create_model` (its name and config go in the file).
    sampler : PatchSampler
        Draws the batches; ``objective(model, batch, rng, device)`` turns one into a loss.
    resume : bool
        Continue from ``out.ckpt``; ``config.steps`` is the total to reach.
    overwrite : bool
        Start afresh even if ``out`` or its checkpoint exist.
    card : dict, optional
        Facts for the model card (command, data…); the loop adds steps, time, hardware, scores.
    progress : callable, optional
        ``progress(step, total, metrics) -> bool``; returning False stops after a checkpoint.
    """
    out = Path(out)
    files = paths_for(out)
    if not out.parent.is_dir():
        raise InputError(f"{out}: cannot write: folder {out.parent} does not exist")
    if not resume and not overwrite and any(p.exists() for p in (files["weights"], files["checkpoint"])):
        raise InputError(f"{out}: weights or checkpoint exist; pass --resume to continue or --overwrite to restart")
    model.to(device).train()
    optimizer = make_optimizer(
        config.optimizer,
        model.parameters(),
        config.lr,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
        lbfgs_steps=config.lbfgs_steps,
    )
    step, best_psnr, best_step, elapsed = 0, None, None, 0.0
    if resume:
        if not files["checkpoint"].is_file():
            raise InputError(f"{files['checkpoint']}: no checkpoint to resume from")
        state = torch.load(files["checkpoint"], map_location=device, weights_only=True)
        if state["model"] != model.model_name or state["model_config"] != model.model_config:
            raise InputError(f"{files['checkpoint']}: checkpoint is for {state['model']} {state['model_config']}")
        model.load_state_dict(state["state_dict"])
        optimizer.load_state_dict(state["optimizer"])
        step, best_psnr, best_step, elapsed = state["step"], state["best_psnr"], state["best_step"], state["seconds"]
        _truncate_log(files["log"], step)
    elif files["log"].exists():
        files["log"].unlink()

    card = {**(card or {}), "model": model.model_name, "config": model.model_config, "train": asdict(config)}
    if resume and files["card"].exists():  # keep every command that shaped these weights
        previous = json.loads(files["card"].read_text())
        card["commands"] = [*previous.get("commands", [previous.get("command")]), card.get("command")]
    use_amp = config.mixed_precision and device.startswith("cuda")
    started, losses, last_val = time.perf_counter() - elapsed, [], math.nan

    def save_checkpoint() -> None:
        state = {
            "model": model.model_name,
            "model_config": model.model_config,
            "state_dict": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "step": step,
            "best_psnr": best_psnr,
            "best_step": best_step,
            "seconds": time.perf_counter() - started,
        }
        partial = files["checkpoint"].with_name(files["checkpoint"].name + ".partial")
        torch.save(state, partial)
        partial.replace(files["checkpoint"])
        if validator is None:  # no score to pick the best by: the latest is the best we know
            write_weights()

    def write_weights() -> None:
        facts = {
            **card,
            "steps": step,
            "seconds": round(time.perf_counter() - started, 1),
            "hardware": hardware(),
            "device": device,
            "best_val_psnr": best_psnr,
            "best_step": best_step,
        }
        save_weights(files["weights"], model, facts)
        files["card"].write_text(json.dumps(facts, indent=2, default=str) + "\n")

    interrupted = False
    with _stop_on_signals() as stop, open(files["log"], "a", newline="") as log_file:
        log = csv.writer(log_file)
        if log_file.tell() == 0:
            log.writerow(["step", "loss", "lr", "val_psnr", "seconds"])
        while step < config.steps:
            factor = learning_rate_factor(config.schedule, step, config.steps, config.warmup)
            for group in optimizer.param_groups:
                group["lr"] = config.lr * factor
            rng = np.random.default_rng([config.seed, step])
            batch = sampler.sample(rng)

            def closure(batch: list[np.ndarray] = batch, noise_seed: tuple = (config.seed, step, 1)) -> torch.Tensor:
                optimizer.zero_grad(set_to_none=True)
                # Every evaluation (L-BFGS makes several per step) sees the same noise draw.
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
                    loss = objective(model, batch, np.random.default_rng(noise_seed), device)
                loss.backward()
                return loss.detach()

            loss = float(optimizer.step(closure))
            if not math.isfinite(loss):
                raise InputError(f"training diverged at step {step + 1} (loss {loss}); lower the learning rate")
            losses.append(loss)
            step += 1
            seconds = time.perf_counter() - started
            if validator is not None and (step % config.val_every == 0 or step == config.steps):
                last_val = validator(model, device)
                if best_psnr is None or last_val > best_psnr:
                    best_psnr, best_step = last_val, step
                    write_weights()
            if step % config.log_every == 0 or step == config.steps:
                log.writerow(
                    [
                        step,
                        f"{np.mean(losses):.6g}",
                        f"{optimizer.param_groups[0]['lr']:.3g}",
                        "" if math.isnan(last_val) else f"{last_val:.3f}",
                        f"{seconds:.1f}",
                    ]
                )
                log_file.flush()
                losses = []
            wants_stop = stop.is_set()
            if progress is not None:
                metrics = {"loss": loss, "lr": optimizer.param_groups[0]["lr"]}
                if not math.isnan(last_val):
                    metrics["val_psnr"] = last_val
                wants_stop = (not progress(step, config.steps, metrics)) or wants_stop
            if step % config.checkpoint_every == 0 or step == config.steps or wants_stop:
                save_checkpoint()
            if wants_stop and step < config.steps:
                interrupted = True
                break
    if validator is None or not files["weights"].exists():
        write_weights()
    return TrainResult(files["weights"], step, best_psnr, best_step, time.perf_counter() - started, interrupted)


def _truncate_log(path: Path, step: int) -> None:
    """Drop log rows written after the checkpoint being resumed (they will be redone)."""
    if not path.exists():
        return
    with open(path, newline="") as file:
        rows = list(csv.reader(file))
    kept = [rows[0]] + [row for row in rows[1:] if int(row[0]) <= step]
    with open(path, "w", newline="") as file:
        csv.writer(file).writerows(kept)
