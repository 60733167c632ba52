"""The arithmetic networks run in: float32, or bfloat16 where the device computes it natively.

Examples
--------
>>> use_bfloat16("float32", "cpu")
False
"""

from __future__ import annotations

import torch

from denoisekit.errors import InputError
from denoisekit.registry import Param

PRECISIONS = ("auto", "float32", "bfloat16")

PRECISION_PARAM = Param(
    "precision",
    str,
    "auto",
    "arithmetic of the network's forward passes; auto: bfloat16 where the device has it natively (about twice as fast)",
    choices=PRECISIONS,
)


def use_bfloat16(precision: str, device: torch.device | str) -> bool:
    """Whether a network's forward passes run under bfloat16 autocast: as asked, or (``"auto"``)
    where the device computes bfloat16 natively, a CUDA GPU or a CPU with AVX-512 (oneDNN), where
    convolutions then run about twice as fast (docs/BENCHMARKS.md)."""
    if precision not in PRECISIONS:
        raise InputError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision != "auto":
        return precision == "bfloat16"
    if torch.device(device).type == "cuda":
        return torch.cuda.is_bf16_supported()
    return torch.ops.mkldnn._is_mkldnn_bf16_supported()  # torch's own check; no public one on CPU
