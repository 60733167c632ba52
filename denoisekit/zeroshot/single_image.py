"""What the single-image trainers (ZS-N2N, Pixel2Pixel) share: their Adam loop, its arithmetic,
and the 8-view average of the trained network's output."""

from __future__ import annotations

from collections.abc import Callable

import torch

from denoisekit.errors import Cancelled, InputError
from denoisekit.registry import Progress

PRECISIONS = ("auto", "float32", "bfloat16")


def use_bfloat16(precision: str, device: torch.device | str) -> bool:
    """Whether training steps run under bfloat16 autocast: as asked, or (``"auto"``) where the
    device computes bfloat16 natively, a CUDA GPU or a CPU with AVX-512 (oneDNN), where the small
    convolutions of these networks then run about twice as fast (docs/BENCHMARKS.md)."""
    if precision not in PRECISIONS:
        raise InputError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision != "auto":
        return precision == "bfloat16"
    if torch.device(device).type == "cuda":
        return torch.cuda.is_bf16_supported()
    return torch.ops.mkldnn._is_mkldnn_bf16_supported()


def train_steps(
    step_loss: Callable[[], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler,
    iterations: int,
    progress: Progress | None,
    bfloat16: bool = False,
) -> None:
    """``iterations`` optimizer steps on ``step_loss()`` (it draws its own crop or pair), with
    ``loss`` reported to ``progress``; returning False from it raises :class:`Cancelled`.

    With ``bfloat16`` the network's forward pass runs under bfloat16 autocast (the weights, the
    optimizer and the losses stay float32)."""
    device_type = optimizer.param_groups[0]["params"][0].device.type
    for step in range(1, iterations + 1):
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bfloat16):
            loss = step_loss()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        if progress is not None and progress(step, iterations, {"loss": loss.item()}) is False:
            raise Cancelled("zero-shot fit cancelled")


def average_views(denoise: Callable[[torch.Tensor], torch.Tensor], image: torch.Tensor) -> torch.Tensor:
    """The mean of ``denoise`` over the 8 rotations and flips of ``image``, each undone: a small
    network's 3×3 filters are not symmetric, so each view errs differently, and 8 passes cost
    far less than its training."""
    total = torch.zeros_like(image)  # a running sum: eight full-size outputs need not coexist
    for flip in (False, True):
        flipped = image.flip(3) if flip else image
        for k in range(4):
            restored = torch.rot90(denoise(torch.rot90(flipped, k, dims=(2, 3))), -k, dims=(2, 3))
            total += restored.flip(3) if flip else restored
    return total / 8


def apply_views(denoise: Callable[[torch.Tensor], torch.Tensor], image: torch.Tensor, views: int) -> torch.Tensor:
    """``denoise(image)`` (``views`` 1), or its :func:`average_views` (``views`` 8)."""
    return denoise(image) if views == 1 else average_views(denoise, image)
