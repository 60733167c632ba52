"""Weights files: one ``.pt`` holding the model's name, its configuration, its parameters and its
model card, so a file alone rebuilds the network. Shipped weights live in
``denoisekit/weights`` and are found by name.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from denoisekit.errors import InputError

FORMAT = "denoisekit-weights"
SHIPPED = Path(__file__).resolve().parent.parent / "weights"


@dataclass
class Weights:
    """A loaded weights file: the ready model (in eval mode) and its card."""

    model: nn.Module
    name: str
    config: dict[str, Any]
    card: dict[str, Any]


def save_weights(
    path: str | os.PathLike, model: nn.Module, card: dict[str, Any] | None = None, half: bool = False
) -> Path:
    """Write ``model`` (built by :func:`create_model`) and its ``card`` to ``path`` atomically.

    ``half`` stores floating-point tensors as float16 (half the size; they load back as
    float32, with a change of the outputs far below what 8-bit files can show).
    """
    path = Path(path)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    payload = {
        "format": FORMAT,
        "version": 1,
        "model": model.model_name,
        "config": model.model_config,
        "state_dict": state,
        "card": card or {},
    }
    partial = path.with_name(path.name + ".partial")
    torch.save(payload, partial)
    partial.replace(path)
    return path


def read_header(path: str | os.PathLike) -> dict[str, Any]:
    """The file's payload (model name, config, card, parameters), checked, or InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such weights file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        raise InputError(f"{path}: not a readable weights file ({str(error).splitlines()[0][:120]})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise InputError(f"{path}: not a denoisekit weights file (write one with 'denoisekit train')")
    return payload


def load_weights(path: str | os.PathLike, expect_model: str | None = None) -> Weights:
    """Rebuild the network stored in ``path``; ``expect_model`` guards against a mismatched file."""
    from denoisekit.models import create_model

    payload = read_header(path)
    name = payload["model"]
    if expect_model is not None and name != expect_model:
        raise InputError(f"{path}: these weights are for model {name!r}, not {expect_model!r}")
    model = create_model(name, **payload["config"])
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as error:
        first = str(error).splitlines()[1:2] or [str(error)]
        raise InputError(f"{path}: weights do not fit model {name!r}: {first[0].strip()[:160]}") from None
    return Weights(model.eval(), name, payload["config"], payload["card"])


def grow_weights(source: nn.Module, target: nn.Module) -> nn.Module:
    """Copy ``source``'s parameters into the wider ``target`` so that it computes the same function.

    Both networks must have the same layers, ``target``'s no narrower than ``source``'s
    (for example a U-Net with more channels at one scale). Each tensor is copied into the
    leading slice of its wider counterpart; the weights by which an old output channel would
    read a new input channel are zeroed, so the new channels start silent and training grows
    them from the trained network instead of from scratch (as Net2Net widens a network).
    The new channels' own incoming weights keep their random initialisation, which lets
    gradients reach the zeroed weights from the first step.
    """
    modules = dict(target.named_modules())
    if set(modules) != {name for name, _ in source.named_modules()}:
        raise InputError("cannot grow the network: its layers differ from the new configuration's")
    for name, module in source.named_modules():
        wide = modules[name]
        transposed = isinstance(module, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d))
        for key, small in list(module.named_parameters(recurse=False)) + list(module.named_buffers(recurse=False)):
            big = getattr(wide, key)
            if small.dim() != big.dim() or any(s > b for s, b in zip(small.shape, big.shape, strict=True)):
                raise InputError(f"cannot grow {name}.{key} from {tuple(small.shape)} to {tuple(big.shape)}")
            with torch.no_grad():
                if key == "weight" and small.dim() >= 2:
                    out_axis, in_axis = (1, 0) if transposed else (0, 1)
                    old_out = [slice(None)] * big.dim()
                    old_out[out_axis] = slice(0, small.shape[out_axis])
                    old_out[in_axis] = slice(small.shape[in_axis], None)
                    big[tuple(old_out)] = 0
                big[tuple(slice(0, n) for n in small.shape)] = small
    return target


def shipped_weights(model: str, channels: int = 1) -> Path:
    """Path of the weights shipped for ``model`` on gray (1) or color (3) images."""
    kind = "gray" if channels == 1 else "color"
    path = SHIPPED / f"{model}-{kind}.pt"
    if not path.is_file():
        raise InputError(
            f"no shipped weights for model {model!r} on {kind} images; train some with "
            f"'denoisekit train --model {model} ...' and pass --weights"
        )
    return path


def has_shipped_weights(model: str) -> bool:
    """Whether the package ships weights for ``model`` (gray, color or both)."""
    return any(SHIPPED.glob(f"{model}-*.pt"))
