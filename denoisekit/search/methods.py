"""Registers ``nas-dip``: Deep Image Prior with a searched network (``--arch best_arch.json``).

The fit, its stopping rules, repetitions and oracle mode are ``dip``'s
(:func:`denoisekit.zeroshot.methods.fit_dip_method`); only the network differs. Without
``arch`` the network is :func:`~denoisekit.search.space.default_genotype`, the standard DIP
decoder written as a genotype (not a search result: see docs/BENCHMARKS.md, "NAS-DIP").

Examples
--------
>>> import numpy as np
>>> noisy = np.random.default_rng(0).random((20, 20, 1), dtype=np.float32)
>>> nas_dip_method(noisy, 25.0, iterations=2, width=4).shape
(20, 20, 1)
"""

from __future__ import annotations

import functools

import numpy as np

from denoisekit.registry import Param, Progress, register_method
from denoisekit.search.network import build_network
from denoisekit.search.space import default_genotype, read_genotype
from denoisekit.zeroshot.history import RunHistory
from denoisekit.zeroshot.methods import DIP_ITERATIONS, DIP_PARAMS, fit_dip_method, pyramid_finest

_SKIP_ONLY = ("depth", "unshuffle", "skip", "upsample")  # the genotype describes the network instead


@register_method(
    "nas-dip",
    family="zero-shot",
    summary="NAS-DIP: Deep Image Prior with a searched decoder (denoisekit search), stopped by a no-reference rule",
    params=(
        Param("arch", str, None, "genotype JSON file written by 'denoisekit search' (default: the DIP decoder)"),
        *(p for p in DIP_PARAMS if p.name not in _SKIP_ONLY),
    ),
    uses_device=True,
    uses_reference=True,
    bytes_per_pixel=2048,
)
def nas_dip_method(
    image: np.ndarray,
    sigma: float | None,
    progress: Progress | None = None,
    device: str = "cpu",
    *,
    reference: np.ndarray | None = None,
    history: RunHistory | None = None,
    arch: str | None = None,
    iterations: int = DIP_ITERATIONS,
    lr: float = 0.01,
    width: int = 128,
    finest: int | None = None,
    stop: str = "self-validation",
    holdout: float = 0.1,
    patience: int = 300,
    repeats: int = 1,
    minutes: float | None = None,
    seed: int = 0,
) -> np.ndarray:
    """DIP with the network of genotype ``arch`` (a file, or JSON text); see ``dip`` for the rest.

    Parameters
    ----------
    image, sigma, progress, device, reference, history
        As :func:`denoisekit.zeroshot.methods.deep_image_prior_method`.
    arch : str, optional
        ``best_arch.json`` from ``denoisekit search``; without it, the DIP decoder.
    iterations, lr, width, finest, stop, holdout, patience, repeats, minutes, seed
        As ``dip``'s parameters (``denoisekit methods``); ``width``/``finest`` set the channels
        of the searched network's levels (a search scores candidates on narrower ones).

    Returns
    -------
    ndarray
        float32 ``(H, W, C)``.
    """
    genotype = default_genotype() if arch is None else read_genotype(arch)
    build = functools.partial(build_network, genotype, finest=pyramid_finest(finest, width, device), width=width)
    return fit_dip_method(
        "nas-dip",
        build,
        image,
        sigma,
        progress,
        device,
        reference=reference,
        history=history,
        iterations=iterations,
        lr=lr,
        stop=stop,
        holdout=holdout,
        patience=patience,
        repeats=repeats,
        minutes=minutes,
        seed=seed,
    )
