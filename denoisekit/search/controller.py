"""The NAS-DIP controller: an LSTM that emits one decision at a time, trained by REINFORCE.

At each step the LSTM reads the embedding of the previous choice (a learned start vector for
the first), and the decision's own linear head and softmax give the distribution of the next
choice (as ENAS, Pham et al. 2018). :class:`Reinforce` raises the log-probability of
architectures that beat an exponential moving average of past rewards (the baseline, which
lowers the gradient's variance) and adds an entropy bonus so the policy does not collapse on
the first good architecture it sees.

Examples
--------
>>> controller = Controller([3, 2], seed=0)
>>> choices = controller.sample(4, torch.Generator().manual_seed(0))
>>> len(choices), all(0 <= a < 3 and 0 <= b < 2 for a, b in choices)
(4, True)
>>> trainer = Reinforce(controller, lr=0.05)
>>> sorted(trainer.update(choices, [1.0, 0.0, 0.0, 1.0]))
['advantage', 'baseline', 'entropy', 'loss']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn


class Controller(nn.Module):
    """An LSTM policy over a fixed sequence of categorical decisions.

    Parameters
    ----------
    sizes : sequence of int
        How many choices each decision has, in the order they are made.
    hidden : int
        LSTM state and embedding size.
    seed : int
        Seed of the initial weights.
    """

    def __init__(self, sizes: Sequence[int], hidden: int = 64, seed: int = 0) -> None:
        super().__init__()
        self.sizes = tuple(sizes)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.start = nn.Parameter(torch.zeros(1, hidden))
            self.lstm = nn.LSTMCell(hidden, hidden)
            self.heads = nn.ModuleList(nn.Linear(hidden, n) for n in self.sizes)
            self.embeddings = nn.ModuleList(nn.Embedding(n, hidden) for n in self.sizes)

    def _run(
        self, count: int, choices: torch.Tensor | None, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sample ``count`` sequences, or score the given ``choices`` ``(count, decisions)``."""
        x = self.start.expand(count, -1)
        state = None
        picked, log_prob, entropy = [], torch.zeros(count), torch.zeros(count)
        for i, (head, embedding) in enumerate(zip(self.heads, self.embeddings, strict=True)):
            h, c = self.lstm(x, state)
            state = (h, c)
            log_p = torch.log_softmax(head(h), dim=-1)
            sampled = choices is None
            action = torch.multinomial(log_p.exp(), 1, generator=generator)[:, 0] if sampled else choices[:, i]
            log_prob = log_prob + log_p.gather(1, action[:, None])[:, 0]
            entropy = entropy - (log_p.exp() * log_p).sum(dim=-1)
            picked.append(action)
            x = embedding(action)
        return torch.stack(picked, dim=1), log_prob, entropy

    @torch.no_grad()
    def sample(self, count: int, generator: torch.Generator | None = None) -> list[list[int]]:
        """``count`` independent choice sequences drawn from the policy."""
        return self._run(count, None, generator)[0].tolist()

    def log_prob(self, choices: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probability of each choice sequence under the policy, and the policy's entropy
        along it (both differentiable), each of shape ``(len(choices),)``."""
        _, log_prob, entropy = self._run(len(choices), torch.tensor(choices, dtype=torch.long), None)
        return log_prob, entropy


class Reinforce:
    """REINFORCE with an exponential-moving-average baseline and an entropy bonus.

    The loss of a batch is ``-mean((R - b) · log π(a)) - entropy_weight · mean(H)``, with ``b``
    the baseline before the batch; then ``b ← decay · b + (1 - decay) · mean(R)`` (the first
    batch sets ``b`` to its mean reward).

    Parameters
    ----------
    controller : Controller
        The policy to train.
    lr : float
        Adam's learning rate.
    baseline_decay : float
        Weight of the old baseline in the moving average.
    entropy_weight : float
        Weight of the entropy bonus.
    """

    def __init__(
        self, controller: Controller, lr: float = 0.02, baseline_decay: float = 0.9, entropy_weight: float = 0.01
    ) -> None:
        self.controller = controller
        self.optimizer = torch.optim.Adam(controller.parameters(), lr=lr)
        self.baseline_decay = baseline_decay
        self.entropy_weight = entropy_weight
        self.baseline: float | None = None

    def update(self, choices: Sequence[Sequence[int]], rewards: Sequence[float]) -> dict[str, float]:
        """One gradient step on a batch of sampled choices and their rewards; returns its metrics."""
        reward = torch.tensor(rewards, dtype=torch.float32)
        if self.baseline is None:
            self.baseline = float(reward.mean())
        advantage = reward - self.baseline
        log_prob, entropy = self.controller.log_prob(choices)
        loss = -(advantage * log_prob).mean() - self.entropy_weight * entropy.mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.baseline = self.baseline_decay * self.baseline + (1 - self.baseline_decay) * float(reward.mean())
        return {
            "loss": loss.item(),
            "advantage": advantage.mean().item(),
            "baseline": self.baseline,
            "entropy": entropy.mean().item(),
        }

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue training: the controller, Adam's moments, the baseline."""
        return {
            "controller": self.controller.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "baseline": self.baseline,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved."""
        self.controller.load_state_dict(state["controller"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.baseline = state["baseline"]
