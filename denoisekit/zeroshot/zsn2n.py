"""Zero-Shot Noise2Noise (Mansour & Heckel, CVPR 2023): the fast zero-shot method.

A fixed 2×2 downsampler splits the noisy image into two half-size images whose noise is
independent: one averages the two pixels of each 2×2 block's diagonal, the other those of its
anti-diagonal. A tiny network (two 3×3 convolutions and a 1×1, predicting the noise) is trained
so that each half denoised predicts the other (residual loss), and so that denoising commutes
with the downsampling (consistency loss). Then the full image is denoised, by default as the
mean over its 8 rotations and flips.

The original trains on the whole image for 3,000 iterations. On a CPU each iteration can use a
random crop instead (even offsets, so the 2×2 grid stays aligned): the loss is a mean of local
terms, so a crop estimates it, up to the crop's border, at a fraction of the cost.

Examples
--------
>>> import numpy as np
>>> noisy = np.random.default_rng(0).random((16, 16, 1), dtype=np.float32)
>>> zs_n2n(noisy, iterations=3).shape
(16, 16, 1)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from denoisekit.errors import InputError
from denoisekit.precision import use_bfloat16
from denoisekit.registry import Progress
from denoisekit.zeroshot.dip import to_image, to_tensor
from denoisekit.zeroshot.single_image import apply_views, train_steps


class ZSN2NNet(nn.Module):
    """The original's network: conv3×3 → LReLU → conv3×3 → LReLU → conv1×1, predicting noise."""

    def __init__(self, channels: int, width: int = 48) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(width, width, 3, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(width, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def pair_downsample(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The two half-size images: means of each 2×2 block's diagonal and anti-diagonal pixels."""
    channels = image.shape[1]
    diagonal = image.new_tensor([[[[0.5, 0.0], [0.0, 0.5]]]]).repeat(channels, 1, 1, 1)
    anti = image.new_tensor([[[[0.0, 0.5], [0.5, 0.0]]]]).repeat(channels, 1, 1, 1)
    return (
        F.conv2d(image, anti, stride=2, groups=channels),
        F.conv2d(image, diagonal, stride=2, groups=channels),
    )


def zsn2n_loss(net: nn.Module, noisy: torch.Tensor) -> torch.Tensor:
    """Residual (each half predicts the other) plus consistency (denoise, then downsample) loss."""
    noisy1, noisy2 = pair_downsample(noisy)
    pred1 = noisy1 - net(noisy1)
    pred2 = noisy2 - net(noisy2)
    residual = 0.5 * (F.mse_loss(noisy1, pred2) + F.mse_loss(noisy2, pred1))
    denoised1, denoised2 = pair_downsample(noisy - net(noisy))
    consistency = 0.5 * (F.mse_loss(pred1, denoised1) + F.mse_loss(pred2, denoised2))
    return residual + consistency


def denoise_with(net: nn.Module, image: torch.Tensor, views: int) -> torch.Tensor:
    """The trained network (it predicts the noise) applied once (``views`` 1), or averaged over
    the 8 rotations and flips of the image."""
    return apply_views(lambda view: view - net(view), image, views)


def train_zs_n2n(
    image: torch.Tensor,
    *,
    iterations: int = 1000,
    lr: float = 1e-3,
    width: int = 48,
    crop: int = 0,
    seed: int = 0,
    precision: str = "auto",
    progress: Progress | None = None,
) -> ZSN2NNet:
    """Train Zero-Shot Noise2Noise's network on one image; it predicts the noise (see :func:`denoise_with`).

    Parameters
    ----------
    image : Tensor
        Noisy ``(1, C, H, W)`` in [0, 1], at least 2×2, on the device to train on.
    iterations : int
        Adam steps; the learning rate halves after half of them, as the original.
    lr : float
        Initial learning rate.
    width : int
        Channels of the hidden layers.
    crop : int
        Side of the random crop each step trains on (even); 0 or at least the image side: the whole image.
    seed : int
        Seed of the initialisation and of the crops.
    precision : str
        ``"auto"``, ``"float32"`` or ``"bfloat16"``: the arithmetic of the training steps (see
        :func:`~denoisekit.precision.use_bfloat16`).
    progress : callable, optional
        Called every iteration with ``loss``; returning False raises
        :class:`~denoisekit.errors.Cancelled`.

    Returns
    -------
    ZSN2NNet
    """
    _, channels, height, width_px = image.shape
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = ZSN2NNet(channels, width).to(image.device)
    rng = np.random.default_rng(seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.StepLR(optimizer, step_size=max(1, iterations // 2), gamma=0.5)
    crop_h = height if not crop or crop >= height else crop // 2 * 2
    crop_w = width_px if not crop or crop >= width_px else crop // 2 * 2

    def step_loss() -> torch.Tensor:
        top = 2 * rng.integers(0, (height - crop_h) // 2 + 1)
        left = 2 * rng.integers(0, (width_px - crop_w) // 2 + 1)
        return zsn2n_loss(net, image[:, :, top : top + crop_h, left : left + crop_w])

    train_steps(step_loss, optimizer, schedule, iterations, progress, use_bfloat16(precision, image.device))
    return net


def zs_n2n(noisy: np.ndarray, *, views: int = 8, device: str = "cpu", **training: Any) -> np.ndarray:
    """Denoise one image with Zero-Shot Noise2Noise.

    Parameters
    ----------
    noisy : ndarray
        float32 ``(H, W, C)`` in [0, 1], at least 2×2.
    views : int
        1, or 8: average the outputs over the image's rotations and flips (+0.01 to +0.18 dB,
        mean +0.09, on four validation images).
    device : str
        Torch device.
    **training
        Keyword arguments of :func:`train_zs_n2n`.

    Returns
    -------
    ndarray
        float32 ``(H, W, C)`` in [0, 1].
    """
    if views not in (1, 8):
        raise InputError(f"zs-n2n: views must be 1 or 8, got {views}")
    image = to_tensor(noisy, device)
    net = train_zs_n2n(image, **training)
    with torch.no_grad():
        return to_image(denoise_with(net, image, views))
