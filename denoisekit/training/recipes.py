"""``train``: from folders (or an MNIST file) to a weights file, as ``denoisekit train`` does.

This is the assembly the CLI and the Python API share: load data, hold out validation images,
build the model and the objective, run the loop.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from denoisekit.errors import InputError
from denoisekit.estimate import estimate_sigma
from denoisekit.models import create_model, model_accepts
from denoisekit.models.weights import grow_weights, load_weights, shipped_weights
from denoisekit.registry import Progress
from denoisekit.training import METHODS
from denoisekit.training.blindspot import BlindSpot
from denoisekit.training.data import ImageSet, PatchSampler, load_images, pair_images, pairs_by_pattern
from denoisekit.training.neighbor2neighbor import Neighbor2Neighbor
from denoisekit.training.noise2noise import Noise2Noise
from denoisekit.training.noise2void import Noise2Void
from denoisekit.training.objectives import NoiseSpec, Supervised
from denoisekit.training.trainer import TrainConfig, TrainResult, Validator
from denoisekit.training.trainer import train as run_loop

SELF_SUPERVISED = {"n2n": Noise2Noise, "n2v": Noise2Void, "blindspot": BlindSpot, "ne2ne": Neighbor2Neighbor}


def _initial_network(
    init: str | os.PathLike, model: str, channels: int, model_config: dict[str, Any] | None
) -> torch.nn.Module:
    """The network to fine-tune: loaded from ``init`` (a file, or ``"shipped"``), checked against the data.

    A ``model_config`` grows the loaded network into a wider one that starts out computing
    the same function (see :func:`grow_weights`).
    """
    path = shipped_weights(model, channels) if str(init) == "shipped" else init
    start = load_weights(path, expect_model=model)
    own = start.config.get("channels", 1)
    if own != channels:
        raise InputError(f"{path}: weights for {own}-channel images, the data has {channels}")
    if not model_config:
        return start.model.train()
    wider = create_model(model, **{**start.config, **model_config})
    return grow_weights(start.model, wider).train()


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
    model: str | None = None,
    model_config: dict[str, Any] | None = None,
    init: str | os.PathLike | None = None,
    clean_pairs: str | os.PathLike | None = None,
    pair_data: str | os.PathLike | None = None,
    pair_pattern: str | None = None,
    synthetic: bool = False,
    sigma: str | tuple[float, float] | None = None,
    noise: str = "gaussian",
    noise_levels: dict[str, float] | None = None,
    unclipped: float = 0.0,
    loss: str = "mse",
    mask_fraction: float = 0.01,
    gamma: float = 2.0,
    val: str | os.PathLike | None = None,
    val_split: int | None = None,
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
        A folder of images, one large image, or MNIST's idx file: clean images for
        ``supervised`` training (noisy ones with ``clean_pairs``), noisy ones for the
        self-supervised methods (clean ones with ``synthetic``).
    out : path
        The weights file; ``out.ckpt``, ``out.csv`` and ``out.json`` are written beside it.
    method : str
        ``supervised``; or, from noisy images only, ``n2n`` (Noise2Noise: two shots of each
        scene), ``n2v`` (Noise2Void), ``blindspot`` (blind-spot network) or ``ne2ne``
        (Neighbor2Neighbor).
    model, model_config
        A registered model name (default ``unet``; ``blindspot`` for that method) and its
        keywords (the channel count comes from the data). Self-supervised methods train blind
        models (``noise_map`` off unless set); Noise2Void non-residual ones (``residual``).
    init : path or "shipped", optional
        Fine-tune: start from these weights (a file written by ``train``, or ``"shipped"``
        for the package's weights of ``model`` for the data's channels) instead of a random
        initialisation; the network and its config come from the file, unless ``model_config``
        widens it (``{"widths": (64, 96, 128, 256)}``): the new channels start silent.
    clean_pairs : path, optional
        Supervised: clean images under the same file names as the noisy ones in ``data``.
    pair_data, pair_pattern : optional
        Noise2Noise: a folder of second shots named as in ``data``, or a regular expression
        whose first group names the scene, pairing shots inside ``data`` (``(.+)_\\d+``).
    synthetic : bool
        Self-supervised methods on clean ``data``: noisy versions are drawn on the fly (two per
        patch for ``n2n``) and the clean images never reach the loss. For benchmarks.
    sigma : str or (low, high), optional
        Synthetic noise level on the 0–255 scale, fixed (``"25"``) or drawn per patch
        (``"0-55"``); default 25. For ``blindspot`` with ``posterior`` on noisy data, the
        data's noise level (default: estimated from the images).
    noise, noise_levels
        Another noise model of :mod:`denoisekit.noise` (``poisson`` with ``{"peak": 30}``…).
    unclipped : float
        Share of training patches whose synthetic noise stays float instead of being clipped
        and rounded to 8 bits (the published tables' protocol); validation stays 8-bit.
    mask_fraction : float
        Noise2Void: share of pixels masked per patch.
    gamma : float
        Neighbor2Neighbor: weight of the regulariser.
    val, val_split
        Clean validation images (noise added at ``val_sigma``), or the last ``val_split``
        images of clean ``data`` (default 8 there; 0 = none, the latest weights are kept).
        Noisy data cannot validate itself: without ``val`` there is no validation.
    val_sigma : float, optional
        Noise level of the validation images (default: the middle of the training range).
    **loop
        :class:`TrainConfig` fields: steps, batch_size, patch_size, lr, optimizer, schedule…

    Examples
    --------
    >>> train("train400/", "gray.pt", model="unet", sigma="0-55", steps=20000)  # doctest: +SKIP
    >>> train("noisy_cells/", "n2v.pt", method="n2v", steps=5000)  # doctest: +SKIP
    """
    if method not in METHODS:
        raise InputError(f"unknown training method {method!r}; choose one of: {', '.join(METHODS)}")
    self_supervised = method != "supervised"
    _check_sources(method, clean_pairs, pair_data, pair_pattern, synthetic)
    config = TrainConfig(**loop)
    model = model or ("blindspot" if method == "blindspot" else "unet")
    clean_data = synthetic or not self_supervised  # data holds clean images: noise is drawn
    images = load_images(data, min_size=config.patch_size)
    second = None  # the aligned second set: clean targets, or second shots
    if clean_pairs or pair_data:
        second = load_images(clean_pairs or pair_data, min_size=config.patch_size)
        pair_images(images, second)
    elif pair_pattern:
        images, second = pairs_by_pattern(images, pair_pattern)

    if sigma is not None:
        low, high = parse_sigma(sigma)
    elif clean_data:
        low = high = 25.0
    else:
        low = high = None  # the data's own level, estimated below if anything needs it
    config_keywords = dict(model_config or {})
    if self_supervised and model_accepts(model, "noise_map"):
        config_keywords.setdefault("noise_map", False)
    if method == "n2v" and model_accepts(model, "residual"):
        config_keywords.setdefault("residual", False)  # a residual path would pass masked pixels through
    posterior = method == "blindspot" and config_keywords.get("posterior", False)
    if low is None and (posterior or val is not None):
        low = high = _estimated_level(images)
    noise_spec = NoiseSpec(noise, (low, high), dict(noise_levels or {}), unclipped) if clean_data else None

    if val_split is None:
        val_split = 8 if clean_data and not pair_pattern else 0
    validator = None
    val_level = val_sigma if val_sigma is not None else (low + high) / 2 if low is not None else 25.0
    val_noise = NoiseSpec(noise, (val_level, val_level), dict(noise_levels or {}))
    if val is not None:
        validator = Validator(load_images(val), val_noise, sigma=val_level, seed=config.seed)
    elif val_split:
        if not (clean_data or clean_pairs):
            raise InputError("noisy data cannot validate itself: pass --val DIR (clean images) or --val-split 0")
        images, val_images = images.split(val_split)
        if clean_pairs:
            second, val_clean = second.split(val_split)
            validator = Validator(val_clean, None, noisy=val_images, seed=config.seed)
        else:
            validator = Validator(val_images, val_noise, sigma=val_level, seed=config.seed)

    if self_supervised:
        extra = {"n2v": {"fraction": mask_fraction}, "ne2ne": {"gamma": gamma}, "blindspot": {"sigma": low}}
        objective = SELF_SUPERVISED[method](noise_spec, loss, **extra.get(method, {}))
    else:
        objective = Supervised(noise_spec, loss)
    sets = [images, second] if second is not None else [images]
    sampler = PatchSampler(sets, config.patch_size, config.batch_size)
    torch.manual_seed(config.seed)
    if init is None:
        network = create_model(model, channels=images.channels, **config_keywords)
    else:
        network = _initial_network(init, model, images.channels, model_config)
    card = {
        "command": " ".join(["denoisekit", *sys.argv[1:]]) if Path(sys.argv[0]).name == "denoisekit" else None,
        "method": method,
        "data": str(data),
        **({"init": str(init)} if init is not None else {}),
        "pairs": str(clean_pairs or pair_data or pair_pattern or "") or None,
        "synthetic_noise": clean_data,
        "training_images": len(images.images),
        "validation": str(val) if val else f"last {val_split} images of the data" if val_split else None,
        "noise": {"model": noise, "sigma": [low, high], **(noise_levels or {}), "unclipped": unclipped},
        "loss": "gaussian-nll" if posterior else loss,
        **({"mask_fraction": mask_fraction} if method == "n2v" else {}),
        **({"gamma": gamma} if method == "ne2ne" else {}),
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


def _check_sources(method: str, clean_pairs: Any, pair_data: Any, pair_pattern: Any, synthetic: bool) -> None:
    """Refuse data options that do not fit the method, before anything is loaded."""
    if clean_pairs and method != "supervised":
        raise InputError(f"--clean-pairs is for supervised training; {method} learns from noisy images only")
    if (pair_data or pair_pattern) and method != "n2n":
        raise InputError("--pair-data and --pair-pattern give Noise2Noise pairs: use them with --method n2n")
    if synthetic and method == "supervised":
        raise InputError("--synthetic is for self-supervised methods (supervised training always draws its noise)")
    if sum(bool(x) for x in (pair_data, pair_pattern, synthetic)) > 1:
        raise InputError("give one source of Noise2Noise pairs: --pair-data, --pair-pattern or --synthetic")
    if method == "n2n" and not (pair_data or pair_pattern or synthetic):
        raise InputError(
            "Noise2Noise needs two noisy shots of each scene: --pair-data DIR, --pair-pattern REGEX, "
            "or --synthetic (clean data, two noise draws)"
        )


def _estimated_level(images: ImageSet, count: int = 16) -> float:
    """The data's noise level (0–255 scale): the mean estimate over up to ``count`` images."""
    return float(np.mean([estimate_sigma(images.as_float(i)) for i in range(min(count, len(images.images)))]))
