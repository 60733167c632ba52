"""Search strategies: how the next candidates are proposed and what is learned from their rewards.

Both strategies have one interface, so the search loop (:mod:`denoisekit.search.runner`) treats
them alike: ``propose(step, count)`` gives a controller step's genotypes, ``update(genotypes,
rewards)`` learns from them, and ``state_dict``/``load_state_dict`` checkpoint the strategy.
Proposals depend only on (seed, step) and the strategy's state, so a resumed search proposes
exactly what the interrupted one did, and the log answers for what was already evaluated.

Examples
--------
>>> random = make_strategy("random", depth=2, shared=True, seed=0)
>>> [g.hash() for g in random.propose(3, 2)] == [g.hash() for g in random.propose(3, 2)]
True
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from denoisekit.errors import InputError
from denoisekit.search.controller import Controller, Reinforce
from denoisekit.search.space import Genotype, decisions, sample_random

STRATEGIES = ("rl", "random")


class Strategy(ABC):
    """Proposes genotypes of a given depth (one shared cell, or one per level)."""

    name = "strategy"

    def __init__(self, depth: int, shared: bool, seed: int = 0) -> None:
        self.depth, self.shared, self.seed = depth, shared, seed

    @abstractmethod
    def propose(self, step: int, count: int) -> list[Genotype]:
        """The ``count`` candidates of controller step ``step`` (the same for the same state)."""

    def update(self, genotypes: Sequence[Genotype], rewards: Sequence[float]) -> dict[str, float]:
        """Learn from one step's rewards; returns metrics for the log (none by default)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:  # noqa: B027 (optional: stateless by default)
        """Restore :meth:`state_dict`."""


class RandomSearch(Strategy):
    """Uniform random search over the space: the baseline any learned strategy must beat."""

    name = "random"

    def propose(self, step: int, count: int) -> list[Genotype]:
        rng = np.random.default_rng([self.seed, step])
        return [sample_random(rng, self.depth, self.shared) for _ in range(count)]


class ReinforceSearch(Strategy):
    """An LSTM controller trained with REINFORCE (see :mod:`denoisekit.search.controller`).

    Parameters
    ----------
    depth, shared, seed
        The space and the seed of the controller's weights and samples.
    lr, baseline_decay, entropy_weight : float
        See :class:`~denoisekit.search.controller.Reinforce`.
    hidden : int
        LSTM size.
    """

    name = "rl"

    def __init__(
        self,
        depth: int,
        shared: bool,
        seed: int = 0,
        *,
        lr: float = 0.02,
        baseline_decay: float = 0.9,
        entropy_weight: float = 0.01,
        hidden: int = 64,
    ) -> None:
        super().__init__(depth, shared, seed)
        sizes = [len(d.choices) for d in decisions(depth, shared)]
        self.controller = Controller(sizes, hidden=hidden, seed=seed)
        self.trainer = Reinforce(self.controller, lr=lr, baseline_decay=baseline_decay, entropy_weight=entropy_weight)

    def propose(self, step: int, count: int) -> list[Genotype]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + step)
        return [Genotype.from_choices(c, self.depth, self.shared) for c in self.controller.sample(count, generator)]

    def update(self, genotypes: Sequence[Genotype], rewards: Sequence[float]) -> dict[str, float]:
        return self.trainer.update([g.to_choices() for g in genotypes], rewards)

    def state_dict(self) -> dict[str, Any]:
        return self.trainer.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.trainer.load_state_dict(state)


def make_strategy(name: str, depth: int, shared: bool, seed: int = 0, **options: Any) -> Strategy:
    """``rl`` (with :class:`ReinforceSearch`'s ``options``) or ``random``."""
    if name == "rl":
        return ReinforceSearch(depth, shared, seed, **options)
    if name == "random":
        return RandomSearch(depth, shared, seed)
    raise InputError(f"unknown search strategy {name!r}; choose one of: {', '.join(STRATEGIES)}")
