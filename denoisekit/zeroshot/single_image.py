"""What the single-image trainers (ZS-N2N, Pixel2Pixel) share: their Adam loop and the 8-view
average of the trained network's output."""

from __future__ import annotations

from collections.abc import Callable

import torch

from denoisekit.errors import Cancelled
from denoisekit.registry import Progress


def train_steps(
    step_loss: Callable[[], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler,
    iterations: int,
    progress: Progress | None,
) -> None:
    """``iterations`` optimizer steps on ``step_loss()`` (it draws its own crop or pair), with
    ``loss`` reported to ``progress``; returning False from it raises :class:`Cancelled`."""
    for step in range(1, iterations + 1):
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
