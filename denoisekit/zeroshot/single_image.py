"""What the single-image trainers (ZS-N2N, Pixel2Pixel) share: their Adam loop, its arithmetic and
its guard against divergence, and the 8-view average of the trained network's output."""

from __future__ import annotations

from collections.abc import Callable

import torch

from denoisekit.errors import Cancelled
from denoisekit.registry import Progress

# Adam can throw these small networks into a dead state: in one Pixel2Pixel run of twelve on a
# smooth validation image the sigmoid saturated on every pixel, the loss jumped 30× and never came
# back (5.7 dB). At the full learning rate the hidden activations spike now and then, in float32
# too; one spike ran away under bfloat16, and a saturated sigmoid passes no gradient to undo it.
# So the parameters and Adam's moments are kept every GUARD_EVERY steps while the smoothed loss
# is sane, and restored when it has stayed above GUARD_SPIKE times the kept value for
# GUARD_PATIENCE steps. Shorter spikes pass: one run whose loss spiked and recovered by itself
# ended 0.38 dB lower when restored at once (0.66 dB when Adam's moments were also reset).
GUARD_EVERY = 100
GUARD_SPIKE = 3.0
GUARD_PATIENCE = 300
GUARD_SMOOTHING = 0.98  # about a 50-step average: one crop's loss varies too much to judge by


def copy_state(state: dict) -> dict:
    """A copy of one parameter's optimizer state (Adam: its step and moments)."""
    return {name: value.clone() for name, value in state.items()}


class DivergenceGuard:
    """Keeps the optimizer's parameters and their Adam moments while training is sane, and
    restores them when the smoothed loss jumps and stays up (see ``GUARD_SPIKE``). The learning
    rate, which a schedule owns, is left alone."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer
        self.params = [param for group in optimizer.param_groups for param in group["params"]]
        self.average, self.count = 0.0, 0  # the loss's moving average, before bias correction
        self.kept: dict | None = None
        self.spiking_since: int | None = None  # the step the smoothed loss went above the limit

    def smoothed(self) -> float:
        return self.average / (1 - GUARD_SMOOTHING**self.count)

    def update(self, step: int, loss: float) -> None:
        """Record ``loss`` after ``step``: keep the parameters, or restore the kept ones."""
        self.average = GUARD_SMOOTHING * self.average + (1 - GUARD_SMOOTHING) * loss
        self.count += 1
        spiking = self.kept is not None and not self.smoothed() <= GUARD_SPIKE * self.kept["loss"]  # NaN too
        self.spiking_since = (self.spiking_since or step) if spiking else None
        if spiking and step - self.spiking_since >= GUARD_PATIENCE:
            with torch.no_grad():
                for param, value in zip(self.params, self.kept["params"], strict=True):
                    param.copy_(value)
            for param, state in zip(self.params, self.kept["moments"], strict=True):
                self.optimizer.state[param] = copy_state(state)
            self.average, self.count = self.kept["average"], self.kept["count"]
            self.spiking_since = None
        elif (
            not spiking
            and step % GUARD_EVERY == 0
            and (self.kept is None or self.smoothed() <= GUARD_SPIKE / 2 * self.kept["loss"])
        ):
            self.kept = {
                "params": [param.detach().clone() for param in self.params],
                "moments": [copy_state(self.optimizer.state[param]) for param in self.params],
                "loss": self.smoothed(),
                "average": self.average,
                "count": self.count,
            }


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
    optimizer and the losses stay float32). A :class:`DivergenceGuard` undoes a jump of the loss."""
    device_type = optimizer.param_groups[0]["params"][0].device.type
    guard = DivergenceGuard(optimizer)
    for step in range(1, iterations + 1):
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bfloat16):
            loss = step_loss()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        value = loss.item()
        guard.update(step, value)
        if progress is not None and progress(step, iterations, {"loss": value}) is False:
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
