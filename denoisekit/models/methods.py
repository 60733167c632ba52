"""Every registered model is also a denoising method: ``denoisekit denoise -m dncnn --weights W``.

Without ``weights``, the weights shipped for that model (gray or color, picked from the input)
are used. Loaded networks are cached by file, so a batch loads them once.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import torch

from denoisekit.errors import InputError
from denoisekit.models import list_models
from denoisekit.models.weights import Weights, load_weights, shipped_weights
from denoisekit.precision import PRECISION_PARAM, use_bfloat16
from denoisekit.registry import Progress, register_alias, register_method

_SUMMARIES = {
    "cnn": "Plain CNN (5 conv layers)",
    "cae": "Convolutional autoencoder (Keras MNIST tutorial)",
    "dncnn": "DnCNN: 17 conv, BN, residual (predicts the noise)",
    "win5rb": "Win5-RB: 5 wide 7×7 layers, 128 filters, BN, residual",
    "n2n-autoencoder": "Noise2Noise mini-project autoencoder (kernel-2 conv/transposed conv)",
    "unet": "Fast residual U-Net with a noise-level map (the CPU-first default)",
    "blindspot": "Blind-spot network (Laine et al.), trained on noisy images only",
}
_SELF_SUPERVISED = {"blindspot"}  # models that only make sense trained without clean images


@functools.lru_cache(maxsize=8)
def _load(path: Path, modified: float, model: str, device: str) -> Weights:
    weights = load_weights(path, expect_model=model)
    weights.model.to(device)
    return weights


def run_network(
    image: np.ndarray,
    sigma: float | None,
    progress: Progress | None = None,
    *,
    model: str,
    weights: str | os.PathLike | None = None,
    device: str = "cpu",
    precision: str = "auto",
) -> np.ndarray:
    """Denoise ``image`` (H, W, C) with ``model``'s network from ``weights`` (or the shipped ones),
    in bfloat16 where the device has it natively (``precision``; the shipped U-Net then runs about
    twice as fast on a CPU, within 0.01 dB: docs/BENCHMARKS.md)."""
    path = Path(weights) if weights is not None else shipped_weights(model, image.shape[2])
    loaded = _load(path.resolve(), path.stat().st_mtime if path.exists() else 0.0, model, device)
    expected = loaded.config.get("channels", 1)
    if expected != image.shape[2]:
        raise InputError(f"{path}: the network takes {expected}-channel images, not {image.shape[2]}-channel ones")
    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None].to(device)
    level = torch.tensor([25.0 if sigma is None else sigma], device=device)
    bfloat16 = use_bfloat16(precision, device)
    with torch.inference_mode(), torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=bfloat16):
        out = loaded.model(x, level)
    return out[0].float().clamp(0, 1).cpu().numpy().transpose(1, 2, 0)


for _name in list_models():
    register_method(
        _name,
        family="self-supervised" if _name in _SELF_SUPERVISED else "supervised",
        summary=_SUMMARIES.get(_name, _name),
        params=(PRECISION_PARAM,),
        bytes_per_pixel=600.0,
        uses_device=True,
        uses_weights=True,
    )(functools.partial(run_network, model=_name))

# The recommended method: the shipped network, fast on a CPU (docs/BENCHMARKS.md).
register_alias("default", "unet")
