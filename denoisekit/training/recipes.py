"""``train``: from folders (or an MNIST file) to a weights file, as ``denoisekit train`` does.

This is the assembly the CLI and the Python API share: load data, hold out validation images,
build the model and the objective, run the loop.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import torch

from denoisekit.errors import InputError
from denoisekit.models import create_model
from denoisekit.registry import Progress
from denoisekit.training.data import PatchSampler, load_images, pair_images
from denoisekit.training.objectives import NoiseSpec, Supervised
from denoisekit.training.trainer import TrainConfig, TrainResult, Validator
from denoisekit.training.trainer import train as run_loop

METHODS = ("supervised",)


def parse_sigma(text: str | float | tuple[float, float]) -> tuple[float, float]:
    """``25`` → (25, 25); ``0-55`` → (0, 55): a fixed level or a range for blind models."""
    if isinstance(text, tuple):
        return text
    low, sep, high = str(text).partition("-")
    try:
        values = (float(low), float(high) if sep else float(low))
    except ValueError:
        raise InputError(f"--sigma {text!r} must be a level like 25 or a range like 0-55") from None
    if not 0 <= values[0] <= values[1] <= 255:
        raise InputError(f"--sigma {text!r} must lie within 0-255 (0–255 scale), low before high")
    return values


def train(
    data: str | os.PathLike,
    out: str | os.PathLike,
    *,
    method: str = "supervised",
    model: str = "unet",
    model_config: dict[str, Any] | None = None,
    clean_pairs: str | os.PathLike | None = None,
    sigma: str | tuple[float, float] = "25",
    noise: str = "gaussian",
    noise_levels: dict[str, float] | None = None,
    loss: str = "mse",
    val: str | os.PathLike | None = None,
    val_split: int = 8,
    val_sigma: float | None = None,
    device: str = "cpu",
    resume: bool = False,
    overwrite: bool = False,
    progress: Progress | None = None,
    **loop: Any,
) -> TrainResult:
    """Train a denoiser and write its weights (with checkpoint, log and model card) to ``out``.

    Parameters
    ----------
    data : path
        A folder of images (clean ones for supervised training), one large image, or MNIST's
        idx file. With ``clean_pairs``, ``data`` holds the noisy images.
    out : path
        The weights file; ``out.ckpt``, ``out.csv`` and ``out.json`` are written beside it.
    method : str
        ``supervised``.
    model, model_config
        A registered model name and its keywords (the channel count comes from the data).
    clean_pairs : path, optional
        Clean images under the same file names as the noisy ones in ``data``.
    sigma : str or (low, high)
        Noise level on the 0–255 scale, fixed (``"25"``) or drawn per patch (``"0-55"``).
    noise, noise_levels
        Another noise model of :mod:`denoisekit.noise` (``poisson`` with ``{"peak": 30}``…).
    val, val_split
        A folder of validation images, or else the last ``val_split`` images of ``data``
        (0: no validation; the latest weights are kept).
    val_sigma : float, optional
        Noise level of the validation images (default: the middle of the training range).
    **loop
        :class:`TrainConfig` fields: steps, batch_size, patch_size, lr, optimizer, schedule…

    Examples
    --------
    >>> train("train400/", "gray.pt", model="unet", sigma="0-55", steps=20000)  # doctest: +SKIP
    """
    if method not in METHODS:
        raise InputError(f"unknown training method {method!r}; choose one of: {', '.join(METHODS)}")
    config = TrainConfig(**loop)
    low, high = parse_sigma(sigma)
    noise_spec = NoiseSpec(noise, (low, high), dict(noise_levels or {}))
    images = load_images(data, min_size=config.patch_size)
    clean = load_images(clean_pairs, min_size=config.patch_size) if clean_pairs else None
    if clean is not None:
        pair_images(images, clean)
    validator = None
    if val is not None or val_split:
        if val is not None:
            val_images, val_clean = load_images(val), None
        elif clean is not None:
            images, val_images = images.split(val_split)
            clean, val_clean = clean.split(val_split)
        else:
            images, val_images = images.split(val_split)
            val_clean = None
        val_level = val_sigma if val_sigma is not None else (low + high) / 2
        if val_clean is not None:
            validator = Validator(val_clean, None, noisy=val_images, seed=config.seed)
        else:
            validator = Validator(val_images, noise_spec, sigma=val_level, seed=config.seed)
    sets = [images, clean] if clean is not None else [images]
    sampler = PatchSampler(sets, config.patch_size, config.batch_size)
    objective = Supervised(noise_spec, loss)
    torch.manual_seed(config.seed)
    network = create_model(model, channels=images.channels, **(model_config or {}))
    card = {
        "command": " ".join(["denoisekit", *sys.argv[1:]]) if Path(sys.argv[0]).name == "denoisekit" else None,
        "method": method,
        "data": str(data),
        "clean_pairs": str(clean_pairs) if clean_pairs else None,
        "training_images": len(images.images),
        "validation": str(val) if val else f"last {val_split} images of the data" if val_split else None,
        "noise": {"model": noise, "sigma": [low, high], **(noise_levels or {})},
        "loss": loss,
        "parameters": sum(p.numel() for p in network.parameters()),
    }
    return run_loop(
        network,
        sampler,
        objective,
        config,
        out,
        validator=validator,
        device=device,
        resume=resume,
        overwrite=overwrite,
        card=card,
        progress=progress,
    )
