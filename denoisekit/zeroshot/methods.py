"""Registers the zero-shot methods ``dip``, ``zs-n2n``, ``pixel2pixel`` and ``zs-blend``: the one noisy image only.

Importing this module imports torch; the registry imports it only when methods are listed.

Examples
--------
>>> import numpy as np
>>> noisy = np.random.default_rng(0).random((24, 24, 1), dtype=np.float32)
>>> deep_image_prior_method(noisy, 25.0, iterations=3, width=8, depth=2).shape
(24, 24, 1)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from denoisekit.errors import InputError
from denoisekit.estimate import estimate_sigma
from denoisekit.metrics import psnr
from denoisekit.precision import PRECISION_PARAM
from denoisekit.registry import Param, Progress, register_method
from denoisekit.zeroshot.dip import deep_image_prior, to_image, to_tensor
from denoisekit.zeroshot.history import RunHistory
from denoisekit.zeroshot.pixel2pixel import pixel2pixel, train_pixel2pixel
from denoisekit.zeroshot.single_image import apply_views
from denoisekit.zeroshot.skipnet import UPSAMPLE_MODES, SkipConfig
from denoisekit.zeroshot.stopping import Discrepancy, SelfValidation, StoppingRule, WindowedVariance, holdout_mask
from denoisekit.zeroshot.wiener import collaborative_wiener
from denoisekit.zeroshot.zsn2n import denoise_with, train_zs_n2n, zs_n2n

#: No-reference rules first; ``oracle`` returns the best iteration by PSNR (needs the clean image).
STOP_RULES = ("self-validation", "variance", "discrepancy", "none", "oracle")

# The CPU-practical network (docs/BENCHMARKS.md, "Zero-shot"): most of the arithmetic is at the
# finest levels, so a pyramid 8, 16, 32, 64, 128 costs a fraction of five levels of 128.
CPU_FINEST = 8
DIP_ITERATIONS = 1500
# ZS-N2N on validation crops: 1,000 steps on 128² crops matched 2,000 (29.52 / 29.51 dB) and came
# within 0.2 dB of 2,000 whole-image steps (29.69 dB) at a quarter of the time.
ZS_ITERATIONS = 1000
ZS_CPU_CROP = 128
# Pixel2Pixel on validation images (docs/BENCHMARKS.md): window 31 beat 21 (the original searches
# 40×40; its cost grows with the window's area). Smaller crops buy more steps in the same time: at
# equal time, 64² crops beat 96² (+0.13 dB mean) and 96² beat 128² (+0.31 dB). At 64², 7,000 steps
# are about where it stops gaining: 14,000 moved four images by −0.42 to +0.25 dB (mean −0.04).
P2P_ITERATIONS = 7000
P2P_WINDOW = 31
P2P_CPU_CROP = 64
# A bank of 8 drawn from whole lost 0.36 dB to 4 on a textured validation image; drawn only from
# entries within 2σ² (similarity 1), it gained 0.38 dB on the smoothest and −0.04 to +0.10 on the others.
P2P_BANK = 8
P2P_SIMILARITY = 1.0
# Pixel2Pixel's share in zs-blend, per pixel: TWIN_WEIGHT times the share of the pixel's bank
# beyond its minimal pair that are twins, box-averaged over (2 TWIN_RADIUS + 1)² pixels. Where a
# pixel has no twin, Pixel2Pixel's pairs differ in their clean values and it smooths texture away
# (2.8 dB below ZS-N2N on the most textured validation image). Fitted on five validation images,
# it gained +0.29 dB on average over the global weight 0.8 on six others, and lost at most 0.01.
TWIN_WEIGHT = 0.95
TWIN_RADIUS = 5
# The trained zero-shot methods' last step: BM3D's collaborative Wiener filter with the network's
# output as its pilot (docs/BENCHMARKS.md, session 13). On 17 validation images every one gained:
# zs-blend +0.44 to +0.61 dB on average per set, Pixel2Pixel +0.66 to +1.11, ZS-N2N +1.05 to +1.55,
# for about 5 s at 512² RGB on 2 cores. A strong pilot gains nothing: after the shipped network it
# lost 0.30 dB, so the supervised networks do not offer it.
REFINEMENTS = ("wiener", "none")
REFINE_PARAM = Param(
    "refine",
    str,
    "wiener",
    "last step: wiener (Wiener-filter groups of similar noisy patches, matched on the network's output) or none",
    choices=REFINEMENTS,
)

#: ``dip``'s parameters; ``nas-dip`` takes those that do not describe the skip network.
DIP_PARAMS = (
    Param("iterations", int, DIP_ITERATIONS, "iteration budget (the stopping rule usually ends sooner)", 1, 100_000),
    Param("lr", float, 0.01, "Adam learning rate", 1e-5, 1.0),
    Param("width", int, 128, "channels per level (at the coarser levels, with finest)", 1, 512),
    Param(
        "finest",
        int,
        None,
        f"channels at the finest level, doubling per level up to width (default: width on GPU, {CPU_FINEST} on CPU)",
        1,
        512,
    ),
    Param("depth", int, 5, "levels of the encoder-decoder", 1, 8),
    Param(
        "unshuffle",
        int,
        1,
        "fit the image as unshuffle² phase images of 1/unshuffle the side: a faster start, a lower peak",
        1,
        8,
    ),
    Param("skip", int, 4, "skip channels per level", 0, 128),
    Param("upsample", str, "bilinear", "upsampling mode", choices=UPSAMPLE_MODES),
    Param(
        "stop",
        str,
        "self-validation",
        "which output to return: self-validation (least error on pixels held out of the fit, no reference), "
        "variance (windowed output variance), discrepancy (MSE to the noisy image reaches sigma²), "
        "none (the last), oracle (best PSNR; needs --reference)",
        choices=STOP_RULES,
    ),
    Param("holdout", float, 0.1, "self-validation: fraction of pixels held out of the fit", 0.01, 0.5),
    Param("patience", int, 300, "stop after this many iterations without a new pick", 1, 100_000),
    Param("repeats", int, 1, "independent fits with seeds seed, seed+1, ...; their outputs are averaged", 1, 100),
    Param("minutes", float, None, "wall-time budget per fit: stop then, return the pick so far", 0.01, 10_000),
    Param("seed", int, 0, "seed of the network, its input code and the code's perturbations", 0, 2**31 - 1),
)


def _rule_factory(
    stop: str, noisy: np.ndarray, sigma: float | None, patience: int, holdout: float, seed: int, device: str
) -> Callable[[], StoppingRule] | None:
    """A function making a fresh rule per repetition (rules keep state), or None."""
    if stop == "self-validation":
        # Each repetition holds out other pixels, so an average of repetitions has seen them all.
        target, seeds = to_tensor(noisy, device), itertools.count(seed)
        return lambda: SelfValidation(target, holdout_mask(*noisy.shape[:2], holdout, next(seeds)), patience)
    if stop == "variance":
        return lambda: WindowedVariance(window=50, patience=patience)
    if stop == "discrepancy":
        if sigma is None:
            raise InputError("stop=discrepancy needs the noise level (sigma)")
        target = to_tensor(noisy, device)
        return lambda: Discrepancy(target, sigma)
    return None


@register_method(
    "dip",
    family="zero-shot",
    summary="Deep Image Prior: fit a random encoder-decoder to the image, stopped by a no-reference rule",
    params=DIP_PARAMS,
    uses_device=True,
    uses_reference=True,
    bytes_per_pixel=2048,
)
def deep_image_prior_method(
    image: np.ndarray,
    sigma: float | None,
    progress: Progress | None = None,
    device: str = "cpu",
    *,
    reference: np.ndarray | None = None,
    history: RunHistory | None = None,
    iterations: int = DIP_ITERATIONS,
    lr: float = 0.01,
    width: int = 128,
    finest: int | None = None,
    depth: int = 5,
    unshuffle: int = 1,
    skip: int = 4,
    upsample: str = "bilinear",
    stop: str = "self-validation",
    holdout: float = 0.1,
    patience: int = 300,
    repeats: int = 1,
    minutes: float | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Deep Image Prior with the skip network, Adam, a perturbed code and a moving average.

    Parameters
    ----------
    image : ndarray
        Noisy float32 ``(H, W, C)`` in [0, 1]; any size (the network's input is padded).
    sigma : float or None
        Noise level on the 0–255 scale (only the ``discrepancy`` rule uses it).
    progress : callable, optional
        ``progress(step, total, metrics)`` every iteration with ``loss``, ``criterion`` and, with
        a reference, ``psnr``; returning False cancels.
    device : str
        Torch device.
    reference : ndarray, optional
        Clean image: oracle mode, PSNR per iteration, the whole budget runs (see :mod:`.dip`).
    history : RunHistory, optional
        Filled with one :class:`~denoisekit.zeroshot.history.FitHistory` per repetition.
    iterations, lr, width, finest, depth, unshuffle, skip, upsample, stop, holdout, patience, repeats, minutes, seed
        See the method's parameters (``denoisekit methods``).

    Returns
    -------
    ndarray
        float32 ``(H, W, C)``.
    """
    config = SkipConfig.pyramid(
        pyramid_finest(finest, width, device), width, depth, skip=skip, upsample=upsample, unshuffle=unshuffle
    )
    return fit_dip_method(
        "dip",
        config,
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


def pyramid_finest(finest: int | None, width: int, device: str) -> int:
    """Channels at the finest level: as asked, else ``width`` on a GPU and :data:`CPU_FINEST` on a CPU."""
    return finest or (CPU_FINEST if device == "cpu" else width)


def fit_dip_method(
    name: str,
    network: SkipConfig | Callable[[int, int], nn.Module],
    image: np.ndarray,
    sigma: float | None,
    progress: Progress | None,
    device: str,
    *,
    reference: np.ndarray | None,
    history: RunHistory | None,
    iterations: int,
    lr: float,
    stop: str,
    holdout: float,
    patience: int,
    repeats: int,
    minutes: float | None,
    seed: int,
) -> np.ndarray:
    """What the DIP-like methods (``dip``, ``nas-dip``) share once their network is known: the
    checks, the stopping rule, the repetitions and the history. ``network`` is a
    :class:`SkipConfig` or ``build(in_channels, out_channels)`` (see
    :func:`~denoisekit.zeroshot.dip.deep_image_prior`); the rest is as :func:`deep_image_prior_method`."""
    if stop == "oracle" and reference is None:
        raise InputError("stop=oracle picks the iteration by PSNR, so it needs the clean image (--reference)")
    if reference is not None and reference.shape != image.shape:
        raise InputError(f"reference is {reference.shape}, but the image is {image.shape}")
    rule = _rule_factory(stop, image, sigma, patience, holdout, seed, device)
    out, fits = deep_image_prior(
        image,
        network,
        iterations=iterations,
        rule=rule,
        reference=reference,
        repeats=repeats,
        seed=seed,
        lr=lr,
        seconds=None if minutes is None else 60 * minutes,
        device=device,
        progress=progress,
        return_best=stop == "oracle",
    )
    if history is not None:
        history.method = name
        history.fits.extend(fits)
        history.output = out
    return out


def crop_param(cpu_default: str) -> Param:
    """The ``crop`` parameter; ``cpu_default`` says its default on a CPU (on a GPU: 0)."""
    text = f"side of the random crop each step trains on; 0: the whole image (default: 0 on GPU, {cpu_default} on CPU)"
    return Param("crop", int, None, text, 0, 65_536)


def crop_for(crop: int | None, device: str, cpu_default: int) -> int:
    """The crop side as asked, else the default: ``cpu_default`` on a CPU, the whole image on a GPU."""
    return (cpu_default if device == "cpu" else 0) if crop is None else crop


VIEWS_PARAM = Param("views", int, 8, "outputs averaged over the image's rotations and flips: 1 or 8", choices=(1, 8))


@register_method(
    "zs-n2n",
    family="zero-shot",
    summary="Zero-Shot Noise2Noise: a tiny network trained on the image's two downsampled halves, then Wiener-filtered",
    params=(
        Param("iterations", int, ZS_ITERATIONS, "Adam steps (the learning rate halves after half of them)", 1, 100_000),
        Param("lr", float, 1e-3, "initial Adam learning rate", 1e-6, 1.0),
        Param("width", int, 48, "channels of the two hidden layers", 1, 512),
        crop_param(str(ZS_CPU_CROP)),
        VIEWS_PARAM,
        REFINE_PARAM,
        PRECISION_PARAM,
        Param("seed", int, 0, "seed of the initialisation and the crops", 0, 2**31 - 1),
    ),
    uses_device=True,
    bytes_per_pixel=512,
)
def zs_n2n_method(
    image: np.ndarray,
    sigma: float | None,
    progress: Progress | None = None,
    device: str = "cpu",
    *,
    iterations: int = ZS_ITERATIONS,
    lr: float = 1e-3,
    width: int = 48,
    crop: int | None = None,
    views: int = 8,
    refine: str = "wiener",
    precision: str = "auto",
    seed: int = 0,
) -> np.ndarray:
    """Zero-Shot Noise2Noise (see :mod:`denoisekit.zeroshot.zsn2n`), then the ``refine`` step
    (:func:`refined`); ``sigma`` (0–255, estimated if None) is only the Wiener step's.

    Examples
    --------
    >>> import numpy as np
    >>> noisy = np.random.default_rng(0).random((16, 16, 1), dtype=np.float32)
    >>> zs_n2n_method(noisy, 25.0, iterations=2).shape
    (16, 16, 1)
    """
    if min(image.shape[:2]) < 2:
        raise InputError(f"zs-n2n needs an image of at least 2×2 pixels, got {image.shape[:2]}")
    out = zs_n2n(
        image,
        iterations=iterations,
        lr=lr,
        width=width,
        crop=crop_for(crop, device, ZS_CPU_CROP),
        views=views,
        precision=precision,
        seed=seed,
        device=device,
        progress=progress,
    )
    return refined(image, out, sigma, refine, device)


P2P_PARAMS = (
    Param("iterations", int, P2P_ITERATIONS, "Adam steps (the learning rate halves at 50, 67, 83 %)", 1, 100_000),
    Param("lr", float, 1e-3, "initial Adam learning rate", 1e-6, 1.0),
    Param("bank", int, P2P_BANK, "most similar pixels kept per pixel, the pixel itself included", 2, 64),
    Param(
        "similarity",
        float,
        P2P_SIMILARITY,
        "draw pairs only from bank pixels whose patches are within this multiple of 2 sigma² "
        "(two noisy shots of one patch); 0: from the whole bank",
        0.0,
        100.0,
    ),
    Param("window", int, P2P_WINDOW, "side of the search window (odd)", 3, 101),
    Param("patch", int, 7, "side of the patches compared (odd)", 1, 31),
    Param("width", int, 64, "channels of the hidden layers", 1, 512),
    crop_param(str(P2P_CPU_CROP)),
    VIEWS_PARAM,
    REFINE_PARAM,
    PRECISION_PARAM,
    Param("seed", int, 0, "seed of the initialisation, the crops and the pseudo instances", 0, 2**31 - 1),
)


@register_method(
    "pixel2pixel",
    family="zero-shot",
    summary="Pixel2Pixel: Noise2Noise between pseudo instances of the image from similar pixels, then Wiener-filtered",
    params=P2P_PARAMS,
    uses_device=True,
    bytes_per_pixel=2048,
)
def pixel2pixel_method(
    image: np.ndarray,
    sigma: float | None,
    progress: Progress | None = None,
    device: str = "cpu",
    *,
    iterations: int = P2P_ITERATIONS,
    lr: float = 1e-3,
    bank: int = P2P_BANK,
    similarity: float = P2P_SIMILARITY,
    window: int = P2P_WINDOW,
    patch: int = 7,
    width: int = 64,
    crop: int | None = None,
    views: int = 8,
    refine: str = "wiener",
    precision: str = "auto",
    seed: int = 0,
) -> np.ndarray:
    """Pixel2Pixel (see :mod:`denoisekit.zeroshot.pixel2pixel`), then the ``refine`` step
    (:func:`refined`); ``sigma`` (0–255, estimated if None) sets which bank pixels count as
    similar, and the Wiener gains.

    Examples
    --------
    >>> import numpy as np
    >>> noisy = np.random.default_rng(0).random((16, 16, 1), dtype=np.float32)
    >>> pixel2pixel_method(noisy, 25.0, iterations=2, window=5, patch=3).shape
    (16, 16, 1)
    """
    sigma = estimate_sigma(image) if sigma is None else sigma
    out = pixel2pixel(
        image,
        sigma=sigma,
        iterations=iterations,
        lr=lr,
        bank=bank,
        similarity=similarity or None,
        window=window,
        patch=patch,
        width=width,
        crop=crop_for(crop, device, P2P_CPU_CROP),
        views=views,
        precision=precision,
        seed=seed,
        device=device,
        progress=progress,
    )
    return refined(image, out, sigma, refine, device)


def refined(image: np.ndarray, estimate: np.ndarray, sigma: float | None, refine: str, device: str) -> np.ndarray:
    """``estimate`` of the noisy ``image``, or with ``refine="wiener"`` the collaborative Wiener
    step's output with it as the pilot (:mod:`.wiener`); ``sigma`` (0–255) is estimated from
    ``image`` if None."""
    if refine == "none":
        return estimate
    sigma = estimate_sigma(image) if sigma is None else sigma
    return to_image(collaborative_wiener(to_tensor(image, device), to_tensor(estimate, device), sigma=sigma / 255))


def twin_weights(
    twins: torch.Tensor, bank: int, *, maximum: float = TWIN_WEIGHT, radius: int = TWIN_RADIUS
) -> torch.Tensor:
    """Pixel2Pixel's share in ``zs-blend`` at each pixel, ``(1, 1, H, W)``: ``maximum`` times the
    share of the ``bank`` beyond the minimal pair that its pairs were drawn from (``twins``, 2 to
    ``bank``), box-averaged over ``(2 radius + 1)²`` pixels (see ``TWIN_WEIGHT``)."""
    share = (twins.float() - 2) / (bank - 2)
    padded = F.pad(share, (radius,) * 4, mode="replicate")
    return maximum * F.avg_pool2d(padded, 2 * radius + 1, stride=1)


def shifted(progress: Progress | None, offset: int, total: int) -> Progress | None:
    """``progress`` for one stage of several: its steps counted after ``offset`` of ``total``."""
    if progress is None:
        return None
    return lambda step, _, metrics: progress(offset + step, total, metrics)


@register_method(
    "zs-blend",
    family="zero-shot",
    summary="Pixel2Pixel and ZS-N2N trained on the image, blended, then Wiener-filtered: the strongest zero-shot",
    params=(
        Param("iterations", int, P2P_ITERATIONS, "Pixel2Pixel's Adam steps", 1, 100_000),
        Param("zs_iterations", int, ZS_ITERATIONS, "ZS-N2N's Adam steps", 1, 100_000),
        Param(
            "weight",
            float,
            None,
            "Pixel2Pixel's share of the blend (ZS-N2N's: the rest); default: per pixel, "
            f"{TWIN_WEIGHT} × the share of its bank that are twins, averaged over {2 * TWIN_RADIUS + 1}² pixels",
            0.0,
            1.0,
        ),
        REFINE_PARAM,
        crop_param(f"{P2P_CPU_CROP} for Pixel2Pixel, {ZS_CPU_CROP} for ZS-N2N"),
        PRECISION_PARAM,
        Param("seed", int, 0, "seed of both networks, their crops and their pairs", 0, 2**31 - 1),
    ),
    uses_device=True,
    uses_reference=True,
    bytes_per_pixel=2048,
)
def zero_shot_blend_method(
    image: np.ndarray,
    sigma: float | None,
    progress: Progress | None = None,
    device: str = "cpu",
    *,
    iterations: int = P2P_ITERATIONS,
    zs_iterations: int = ZS_ITERATIONS,
    weight: float | None = None,
    refine: str = "wiener",
    crop: int | None = None,
    precision: str = "auto",
    seed: int = 0,
    reference: np.ndarray | None = None,
    history: RunHistory | None = None,
) -> np.ndarray:
    """Pixel2Pixel and Zero-Shot Noise2Noise, each with its defaults and 8 views, blended.

    The two pair pixels differently (similar patches anywhere in a window; the two diagonals of
    each 2×2 block), so their errors differ and a blend beats either (docs/BENCHMARKS.md,
    "Zero-shot"). Pixel2Pixel weighs most where pixels have twins (:func:`twin_weights`), unless
    ``weight`` fixes its share. With ``refine="wiener"`` the blend is then the pilot of a
    collaborative Wiener step (:func:`refined`). ``sigma`` (0–255) sets Pixel2Pixel's similar
    pixels and the Wiener gains; estimated if None. A ``history`` receives both members, the
    share and the blend as panels for the figures, and a note with the mean share (and, with a
    ``reference``, the PSNR of each member and of the blend).

    Examples
    --------
    >>> import numpy as np
    >>> noisy = np.random.default_rng(0).random((16, 16, 1), dtype=np.float32)
    >>> zero_shot_blend_method(noisy, 25.0, iterations=2, zs_iterations=2).shape
    (16, 16, 1)
    """
    if min(image.shape[:2]) < 2:
        raise InputError(f"zs-blend needs an image of at least 2×2 pixels, got {image.shape[:2]}")
    tensor, total = to_tensor(image, device), iterations + zs_iterations
    sigma = estimate_sigma(image) if sigma is None else sigma
    p2p, twins = train_pixel2pixel(
        tensor,
        sigma=sigma,
        iterations=iterations,
        bank=P2P_BANK,
        similarity=P2P_SIMILARITY,
        window=P2P_WINDOW,
        crop=crop_for(crop, device, P2P_CPU_CROP),
        seed=seed,
        precision=precision,
        progress=shifted(progress, 0, total),
    )
    zs_progress = shifted(progress, iterations, total)
    zs = train_zs_n2n(
        tensor,
        iterations=zs_iterations,
        crop=crop_for(crop, device, ZS_CPU_CROP),
        seed=seed,
        precision=precision,
        progress=zs_progress,
    )
    share = twin_weights(twins, P2P_BANK) if weight is None else torch.full_like(twins, weight, dtype=torch.float32)
    with torch.no_grad():
        members = {"Pixel2Pixel": apply_views(p2p, tensor, 8), "ZS-N2N": denoise_with(zs, tensor, views=8)}
        blend = to_image(share * members["Pixel2Pixel"] + (1 - share) * members["ZS-N2N"])
    out = refined(image, blend, sigma, refine, device)
    if history is not None:
        history.method, history.output = "zs-blend", out
        images = {name: to_image(member) for name, member in members.items()}
        if refine != "none":
            images["Blend"] = blend
        history.panels |= images | {"Pixel2Pixel's share": to_image(share)}
        note = f"Pixel2Pixel's share of the blend: {share.mean().item():.2f} on average"
        if reference is not None:
            note += "; PSNR " + ", ".join(f"{name} {psnr(reference, im):.2f} dB" for name, im in images.items())
        history.notes.append(note)
    return out
