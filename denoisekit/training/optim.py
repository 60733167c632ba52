"""Optimizers and learning-rate schedules, by name.

Every optimizer is stepped with a closure (L-BFGS needs one; the others accept one), so the
trainer has one code path. ``hybrid`` runs L-BFGS for the first K steps, then SGD with
momentum, whose velocity starts from L-BFGS's last step instead of from rest.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch

from denoisekit.errors import InputError

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "lbfgs", "hybrid")
SCHEDULES = ("constant", "cosine", "step")


class Hybrid:
    """L-BFGS for ``lbfgs_steps`` steps, then SGD with momentum.

    At the switch, the momentum buffer is set so that SGD's first update repeats L-BFGS's last
    one scaled by the momentum: the accumulated curvature-informed direction carries over.
    """

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float, momentum: float, lbfgs_steps: int) -> None:
        self.params = list(params)
        self.lbfgs = torch.optim.LBFGS(self.params, lr=1.0, max_iter=5, history_size=10, line_search_fn="strong_wolfe")
        self.sgd = torch.optim.SGD(self.params, lr=lr, momentum=momentum)
        self.lbfgs_steps, self.steps = lbfgs_steps, 0
        self.param_groups = self.sgd.param_groups  # what schedules adjust

    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:
        if self.steps >= self.lbfgs_steps:
            return self.sgd.step(closure)
        loss = self.lbfgs.step(closure)
        self.steps += 1
        if self.steps == self.lbfgs_steps:
            self._hand_over()
        return loss

    def _hand_over(self) -> None:
        state = self.lbfgs.state[self.lbfgs._params[0]]
        if "d" not in state:
            return
        last_update = state["d"] * state["t"]  # flat, as L-BFGS keeps it
        lr = self.sgd.param_groups[0]["lr"]
        offset = 0
        for p in self.params:
            n = p.numel()
            # SGD updates p -= lr * buf, so buf = -update / lr reproduces the last update.
            self.sgd.state[p]["momentum_buffer"] = (-last_update[offset : offset + n] / lr).view_as(p).clone()
            offset += n

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.sgd.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:
        return {"steps": self.steps, "lbfgs": self.lbfgs.state_dict(), "sgd": self.sgd.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps = state["steps"]
        self.lbfgs.load_state_dict(state["lbfgs"])
        self.sgd.load_state_dict(state["sgd"])


def make_optimizer(
    name: str,
    params: Iterable[torch.nn.Parameter],
    lr: float,
    *,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    lbfgs_steps: int = 10,
) -> Any:
    """``sgd``, ``momentum``, ``nesterov``, ``adam``, ``lbfgs`` or ``hybrid``."""
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    if name in ("momentum", "nesterov"):
        nesterov = name == "nesterov"
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "lbfgs":
        return torch.optim.LBFGS(params, lr=lr, max_iter=5, history_size=10, line_search_fn="strong_wolfe")
    if name == "hybrid":
        return Hybrid(params, lr, momentum, lbfgs_steps)
    raise InputError(f"unknown optimizer {name!r}; choose one of: {', '.join(OPTIMIZERS)}")


def learning_rate_factor(schedule: str, step: int, total: int, warmup: int = 0) -> float:
    """Multiplier of the base learning rate at ``step`` (0-based) of ``total``.

    ``constant``; ``cosine`` decay to 1% of the base; ``step``: ×0.1 at 60% and again at 85%.
    A linear warm-up over the first ``warmup`` steps applies to all.
    """
    if schedule not in SCHEDULES:
        raise InputError(f"unknown schedule {schedule!r}; choose one of: {', '.join(SCHEDULES)}")
    warm = min(1.0, (step + 1) / warmup) if warmup else 1.0
    progress = step / max(1, total)
    if schedule == "cosine":
        return warm * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress)))
    if schedule == "step":
        return warm * (0.1 ** ((progress >= 0.6) + (progress >= 0.85)))
    return warm
