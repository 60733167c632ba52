"""A candidate's reward: fit DIP with its network on the proxy images and score the result.

Every candidate gets the same proxy budget (the images prepared by the runner, the iteration
count, the channel widths, the seed of the network, code and held-out pixels), so rewards
compare architectures and nothing else. The fit is :func:`denoisekit.zeroshot.dip.fit`, the
zero-shot loop itself.

Rewards (:data:`REWARDS`):

``psnr`` (benchmark mode)
    PSNR in dB of the fit's output after the whole budget against the clean image, averaged
    over the search images; the noisy image is made from the clean one with a fixed seed.
``self-validation`` (a real noisy image, no reference)
    A random fraction of the pixels is held out of the loss; the reward is
    ``10·log10(1 / MSE)`` of the output against the *noisy* image on those pixels
    (:class:`~denoisekit.zeroshot.stopping.SelfValidation`). Its expectation is that of the
    output's MSE to the clean image plus σ², so it ranks networks as PSNR would, on a lower
    scale (it can never exceed ``10·log10(1/σ²)``).

Examples
--------
>>> import numpy as np
>>> from denoisekit.search.space import default_genotype
>>> clean = np.full((16, 16, 1), 0.5, dtype=np.float32)
>>> task = ScoringTask((ProxyImage("flat", clean + 0.1, clean),), iterations=2, finest=4, width=4)
>>> result = score_candidate(default_genotype(2).to_dict(), task)
>>> sorted(result)
['parameters', 'per_image', 'reward', 'seconds']
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from denoisekit.metrics import psnr
from denoisekit.search.network import build_network
from denoisekit.search.space import Genotype
from denoisekit.zeroshot.dip import CODE_CHANNELS, fit, to_tensor
from denoisekit.zeroshot.stopping import SelfValidation

REWARDS = ("psnr", "self-validation")


@dataclass(frozen=True)
class ProxyImage:
    """One search image at the proxy size: noisy, and the clean one (benchmark mode) or the
    held-out pixels (no-reference mode)."""

    name: str
    noisy: np.ndarray
    clean: np.ndarray | None = None
    held_out: np.ndarray | None = None


@dataclass(frozen=True)
class ScoringTask:
    """The proxy budget every candidate of a search is scored with."""

    images: tuple[ProxyImage, ...]
    iterations: int
    finest: int = 8
    width: int = 64
    lr: float = 0.01
    seed: int = 0
    device: str = "cpu"

    @property
    def reward(self) -> str:
        """``psnr`` when the images have clean references, else ``self-validation``."""
        return "psnr" if self.images[0].clean is not None else "self-validation"


def _score_image(genotype: Genotype, image: ProxyImage, task: ScoringTask) -> tuple[float, int]:
    with torch.random.fork_rng(devices=[]):  # every candidate starts from the same seed
        torch.manual_seed(task.seed)
        net = build_network(genotype, CODE_CHANNELS, image.noisy.shape[2], task.finest, task.width)
    rule = None if image.clean is not None else SelfValidation(to_tensor(image.noisy, task.device), image.held_out)
    _, history = fit(
        net,
        image.noisy,
        iterations=task.iterations,
        rule=rule,
        lr=task.lr,
        seed=task.seed,
        device=task.device,
    )
    if image.clean is not None:
        value = psnr(image.clean, history.images["last"])
    else:
        value = 10.0 * math.log10(1.0 / max(history.criterion[-1], 1e-12))
    return value, sum(p.numel() for p in net.parameters())


def score_candidate(genotype: dict, task: ScoringTask) -> dict:
    """Fit and score one candidate on every proxy image (in a worker process or in this one).

    Parameters
    ----------
    genotype : dict
        The genotype's JSON form (plain data travels to workers unchanged).
    task : ScoringTask
        Proxy images and budget.

    Returns
    -------
    dict
        ``reward`` (mean over images), ``per_image`` rewards, ``seconds`` of wall time and the
        network's ``parameters``.
    """
    start = time.perf_counter()
    architecture = Genotype.from_dict(genotype)
    per_image = {}
    for image in task.images:
        per_image[image.name], parameters = _score_image(architecture, image, task)
    return {
        "reward": float(np.mean(list(per_image.values()))),
        "per_image": {name: round(value, 4) for name, value in per_image.items()},
        "seconds": round(time.perf_counter() - start, 3),
        "parameters": parameters,
    }
