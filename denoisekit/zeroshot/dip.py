"""Deep Image Prior (Ulyanov, Vedaldi & Lempitsky, CVPR 2018): one fitting loop with plug-ins.

A randomly initialised network maps a fixed random code ``z`` to an image and is fitted to the
noisy image by Adam on the MSE. The code is perturbed by small Gaussian noise at every
iteration and the method returns an exponential moving average of the outputs, as in the
original (bias-corrected here, so that short fits are not dominated by the first outputs).
The network fits image structure before noise, so *when* to stop decides the result: a
:class:`~denoisekit.zeroshot.stopping.StoppingRule` watches every iteration, names the
iteration to return, and may end the fit early. With a clean reference the loop also logs PSNR
per iteration (oracle mode) and runs the whole budget, so the gap between the rule's pick and
the best iteration can be measured.

:func:`fit` is network-agnostic: anything mapping ``(1, C_code, H, W)`` to ``(1, C, H, W)``
with a ``multiple`` attribute (input sides must be divisible by it) can be fitted, so NAS-DIP
decoders reuse it. :func:`deep_image_prior` builds skip networks and runs repetitions.

Examples
--------
>>> import numpy as np
>>> from denoisekit.zeroshot.skipnet import SkipConfig
>>> from denoisekit.zeroshot.stopping import WindowedVariance
>>> noisy = np.random.default_rng(0).random((20, 20, 1), dtype=np.float32)
>>> out, fits = deep_image_prior(noisy, SkipConfig((8, 8), (2, 2)), iterations=5, rule=WindowedVariance(2, 10))
>>> out.shape, fits[0].iterations
((20, 20, 1), 5)
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from denoisekit.errors import Cancelled
from denoisekit.registry import Progress
from denoisekit.zeroshot.history import FitHistory
from denoisekit.zeroshot.skipnet import SkipConfig, build_skip_net
from denoisekit.zeroshot.stopping import OraclePSNR, StoppingRule

#: Channels of the input code ``z`` and its scale (uniform noise × 0.1), as the original.
CODE_CHANNELS = 32
CODE_SCALE = 0.1
# Adam now and then diverges for a few dozen iterations (the loss doubles, PSNR drops by 1-2 dB
# and takes 100 iterations to recover). The original notebook reloads the last good weights when
# the fit to the noisy image drops by 5 dB; we check every iteration, against a checkpoint taken
# every CHECKPOINT_EVERY iterations, and also restart Adam, whose moments caused the jump.
CHECKPOINT_EVERY = 50
SPIKE = 1.5


def to_tensor(image: np.ndarray, device: str = "cpu") -> torch.Tensor:
    """``(H, W, C)`` float32 → ``(1, C, H, W)`` tensor on ``device``."""
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None].to(device)


def to_image(tensor: torch.Tensor) -> np.ndarray:
    """``(1, C, H, W)`` tensor → ``(H, W, C)`` float32 array clipped to [0, 1]."""
    return tensor[0].detach().clamp(0, 1).permute(1, 2, 0).cpu().numpy().astype(np.float32)


def padded_size(height: int, width: int, multiple: int) -> tuple[int, int]:
    """The smallest sides ≥ (height, width) divisible by ``multiple``."""
    return -(-height // multiple) * multiple, -(-width // multiple) * multiple


def fit(
    net: nn.Module,
    noisy: np.ndarray,
    *,
    iterations: int,
    rule: StoppingRule | None = None,
    reference: np.ndarray | None = None,
    lr: float = 0.01,
    ema: float = 0.99,
    perturbation: float = 1.0 / 30.0,
    seed: int = 0,
    seconds: float | None = None,
    device: str = "cpu",
    progress: Progress | None = None,
    progress_offset: int = 0,
    progress_total: int | None = None,
) -> tuple[np.ndarray, FitHistory]:
    """Fit ``net`` from a fixed random code to ``noisy`` and return the picked output.

    Parameters
    ----------
    net : nn.Module
        Maps ``(1, CODE_CHANNELS, H', W')`` to ``(1, C, H', W')``; ``H'`` and ``W'`` are the
        image's sides rounded up to ``net.multiple`` and at least ``net.min_size`` (both default
        to 1). The output is cropped to the image, so the loss only sees the image's own pixels.
    noisy : ndarray
        float32 ``(H, W, C)`` in [0, 1].
    iterations : int
        The iteration budget.
    rule : StoppingRule, optional
        Picks the returned iteration and may stop early; without one the last output is returned.
        Its ``loss_mask`` (self-validation's) limits the loss to those pixels.
    reference : ndarray, optional
        The clean image: oracle mode logs PSNR per iteration, runs the whole budget and keeps
        the best output in the history. The rule's pick is frozen where it would have stopped
        the fit, so it is exactly what a run without the reference returns.
    lr, ema, perturbation : float
        Adam's learning rate; weight of the moving average of outputs; standard deviation of
        the noise added to the code at every iteration.
    seed : int
        Seed of the code and its perturbations (the caller seeds the network's initialisation).
    seconds : float, optional
        Wall-time budget: the fit ends after the iteration that spends it, returning the rule's
        pick so far (in oracle mode too), so a slow machine still answers in time.
    device : str
        Torch device.
    progress : callable, optional
        Called every iteration with ``loss``, the rule's ``criterion`` and, in oracle mode,
        ``psnr``; returning False raises :class:`~denoisekit.errors.Cancelled`.
    progress_offset, progress_total : int
        Place of this fit in a longer job (several repetitions), for the progress steps.

    Returns
    -------
    image : ndarray
        float32 ``(H, W, C)``: the smoothed output at the rule's pick (the last one without a rule).
    history : FitHistory
        Loss, criterion and PSNR per iteration, the pick, and the picked/last/best images.
    """
    start = time.perf_counter()
    height, width = noisy.shape[:2]
    # Only the code is padded; the loss sees the image's own pixels, so any size works.
    multiple, least = getattr(net, "multiple", 1), getattr(net, "min_size", 1)
    padded_h, padded_w = padded_size(max(height, least), max(width, least), multiple)
    target = to_tensor(noisy, device)
    loss_mask = None if rule is None else rule.loss_mask
    weights = None if loss_mask is None else torch.from_numpy(loss_mask.astype(np.float32))[None, None].to(device)
    fitted = None if weights is None else weights.sum() * target.shape[1]  # pixels × channels in the loss
    generator = torch.Generator(device=device).manual_seed(seed)
    code = torch.rand((1, CODE_CHANNELS, padded_h, padded_w), generator=generator, device=device) * CODE_SCALE
    oracle = OraclePSNR(to_tensor(reference, device)) if reference is not None else None
    history = FitHistory(rule=rule.name if rule else "none", seed=seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    net.to(device).train()
    total = progress_total or iterations
    average = picked = best = None
    checkpoint, checkpoint_loss = None, float("inf")
    rule_done = False  # oracle mode runs on after the rule's stop, but its pick is frozen there
    for step in range(1, iterations + 1):
        noise = torch.randn(code.shape, generator=generator, device=device) * perturbation
        output = net(code + noise)[:, :, :height, :width]
        error = (output - target) ** 2
        loss = error.mean() if weights is None else (error * weights).sum() / fitted
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            raw = output.detach()
            # Bias-corrected like Adam's moments: the original starts the average at the first
            # output, which then dominates short fits (its weight is still 0.74 at step 30).
            average = raw * (1 - ema) if average is None else average.mul_(ema).add_(raw, alpha=1 - ema)
            smoothed = average / (1 - ema**step)
            metrics = {"loss": loss.item()}
            history.loss.append(metrics["loss"])
            if rule is not None:
                update = rule.value if rule_done else rule.update
                metrics["criterion"] = update(step, raw, smoothed)
                history.criterion.append(metrics["criterion"])
                if rule.best_step == step:
                    picked = smoothed
            if oracle is not None:
                metrics["psnr"] = oracle.update(step, raw, smoothed)
                history.psnr.append(metrics["psnr"])
                if oracle.best_step == step:
                    best = smoothed
        if metrics["loss"] > SPIKE * checkpoint_loss:
            net.load_state_dict(checkpoint)
            optimizer = torch.optim.Adam(net.parameters(), lr=lr)
            history.backtracks += 1
        elif step % CHECKPOINT_EVERY == 0:
            checkpoint = {k: v.detach().clone() for k, v in net.state_dict().items()}
            checkpoint_loss = metrics["loss"]
        if progress is not None and progress(progress_offset + step, total, metrics) is False:
            raise Cancelled("zero-shot fit cancelled")
        if rule is not None and not rule_done and rule.should_stop(step):
            rule_done, history.stopped_at = True, step
            if oracle is None:
                break
        if seconds is not None and time.perf_counter() - start >= seconds:
            history.stopped_at = history.stopped_at or step
            break
    history.picked = rule.best_step if rule is not None and rule.best_step is not None else history.iterations
    history.images["last"] = to_image(smoothed)
    history.images["picked"] = to_image(picked) if picked is not None else history.images["last"]
    if oracle is not None:
        history.best, history.best_psnr = oracle.best_step, oracle.best_value
        history.images["best"] = to_image(best)
        history.picked_psnr = history.psnr[history.picked - 1]
        history.last_psnr = history.psnr[-1]
    history.seconds = time.perf_counter() - start
    return history.images["picked"], history


def deep_image_prior(
    noisy: np.ndarray,
    config: SkipConfig | Callable[[int, int], nn.Module],
    *,
    iterations: int,
    rule: StoppingRule | Callable[[], StoppingRule] | None = None,
    reference: np.ndarray | None = None,
    repeats: int = 1,
    seed: int = 0,
    lr: float = 0.01,
    ema: float = 0.99,
    perturbation: float = 1.0 / 30.0,
    seconds: float | None = None,
    device: str = "cpu",
    progress: Progress | None = None,
    return_best: bool = False,
) -> tuple[np.ndarray, list[FitHistory]]:
    """Run DIP ``repeats`` times (seeds ``seed``, ``seed + 1``, …) with skip networks, or others.

    Parameters
    ----------
    noisy : ndarray
        float32 ``(H, W, C)`` in [0, 1].
    config : SkipConfig or callable
        The skip network, or ``build(in_channels, out_channels) -> nn.Module`` for another
        network :func:`fit` can fit (NAS-DIP's); it is called once per repetition.
    iterations : int
        Budget per repetition.
    rule : StoppingRule or callable returning one, optional
        A fresh rule is needed per repetition: pass a factory when ``repeats`` > 1.
    reference : ndarray, optional
        Clean image for oracle mode (see :func:`fit`).
    repeats : int
        Independent fits; their picks are averaged (an ensemble, which also lowers the variance
        of the result across seeds).
    return_best : bool
        Return (the mean of) the oracle-best outputs instead of the rule's picks; needs ``reference``.
    seconds : float, optional
        Wall-time budget per repetition (see :func:`fit`).
    seed, lr, ema, perturbation, device, progress
        See :func:`fit`.

    Returns
    -------
    image : ndarray
        float32 ``(H, W, C)`` in [0, 1].
    fits : list of FitHistory
        One per repetition.
    """
    fits = []
    for repeat in range(repeats):
        current = rule() if callable(rule) else rule
        with torch.random.fork_rng(devices=[]):  # seeded initialisation without touching global state
            torch.manual_seed(seed + repeat)
            build = functools.partial(build_skip_net, config) if isinstance(config, SkipConfig) else config
            net = build(CODE_CHANNELS, noisy.shape[2])
        _, history = fit(
            net,
            noisy,
            iterations=iterations,
            rule=current,
            reference=reference,
            lr=lr,
            ema=ema,
            perturbation=perturbation,
            seed=seed + repeat,
            seconds=seconds,
            device=device,
            progress=progress,
            progress_offset=repeat * iterations,
            progress_total=repeats * iterations,
        )
        fits.append(history)
    key = "best" if return_best else "picked"
    image = np.mean([h.images[key] for h in fits], axis=0).astype(np.float32)
    return image, fits
