"""NAS-DIP's strategies on a synthetic reward: does the REINFORCE controller learn at all, and
with which learning rate, in a budget of ~100 trials? No DIP fit: seconds, not hours.

The reward of a genotype is ``20 + Σ effect[decision][choice] + noise``: each choice of each of
the search space's decisions (depth 5, one cell per level: 50 decisions) has a fixed random
effect ~ N(0, 0.3²) dB, and each evaluation adds noise ~ N(0, 0.3²) dB. This is far simpler
than DIP's reward (no interactions between decisions); it checks the controller and the loop,
not what NAS-DIP finds.

    python benchmarks/nas_dip_toy.py --trials 100 --per-step 4 --seeds 6
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from denoisekit.search.space import decisions
from denoisekit.search.strategies import make_strategy


def run(strategy: str, lr: float, seed: int, trials: int, per_step: int) -> tuple[float, float]:
    """(best reward found − the optimum, mean reward of the second half − 20) of one search."""
    rng = np.random.default_rng(100 + seed)
    effects = [rng.normal(0, 0.3, len(d.choices)) for d in decisions(5, shared=False)]
    searcher = make_strategy(strategy, 5, False, seed, **({"lr": lr} if strategy == "rl" else {}))
    rewards: list[float] = []
    for step in range(trials // per_step):
        genotypes = searcher.propose(step, per_step)
        batch = [
            20 + sum(e[c] for e, c in zip(effects, g.to_choices(), strict=True)) + rng.normal(0, 0.3) for g in genotypes
        ]
        searcher.update(genotypes, batch)
        rewards += batch
    optimum = 20 + sum(e.max() for e in effects)
    return max(rewards) - optimum, float(np.mean(rewards[len(rewards) // 2 :])) - 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--per-step", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--lrs", type=float, nargs="+", default=[0.005, 0.02, 0.05, 0.1], help="controller Adam lr")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("| strategy | controller lr | best − optimum (dB) | mean reward of 2nd half − 20 (dB) |")
    print("|---|---|---|---|")
    for strategy, lr in [("random", None)] + [("rl", lr) for lr in args.lrs]:
        results = np.array([run(strategy, lr, seed, args.trials, args.per_step) for seed in range(args.seeds)])
        gap, late = results.mean(axis=0)
        print(f"| {strategy} | {lr if lr else '–'} | {gap:.2f} | {late:.2f} |")


if __name__ == "__main__":
    main()
