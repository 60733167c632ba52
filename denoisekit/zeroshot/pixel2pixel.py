"""Pixel2Pixel (Ma et al., TPAMI 2025): Noise2Noise pairs drawn from one image's self-similarity.

For every pixel, a *pixel bank* holds the centre pixels of the ``bank`` patches most similar to
its own patch within a search window (the pixel itself first: its distance is 0). Two pixels of
a bank share, nearly, a clean value, and their noise is independent. So a *pseudo instance* of
the image, one bank entry drawn at random per pixel, is another noisy shot of the same scene,
and a network trained to map one pseudo instance to another is a Noise2Noise denoiser of this
one image. It is applied to the noisy image itself.

One departure from the original, chosen on validation images (docs/BENCHMARKS.md): the bank
keeps 8 pixels, but pairs are drawn only among those whose patches lie within ``2σ²`` of the
pixel's own, what two noisy shots of one patch differ by (:func:`bank_sizes`). Flat regions
then draw from many twins, textured ones from their few true ones.

Where Zero-Shot Noise2Noise pairs neighbouring pixels (halving the resolution), the bank pairs
similar ones at full resolution, so the pairs differ less in their clean values. As in
:mod:`.zsn2n`, each step may train on a random crop: the loss is a mean of local terms.

Examples
--------
>>> import numpy as np
>>> noisy = np.random.default_rng(0).random((16, 16, 1), dtype=np.float32)
>>> pixel2pixel(noisy, iterations=2, window=5, patch=3).shape
(16, 16, 1)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from denoisekit.errors import InputError
from denoisekit.estimate import estimate_sigma
from denoisekit.precision import use_bfloat16
from denoisekit.registry import Progress
from denoisekit.zeroshot.dip import to_image, to_tensor
from denoisekit.zeroshot.single_image import apply_views, train_steps

# Offsets whose distances are compared at once: enough to amortise the top-k, few enough that
# their (offsets, C, H, W) candidates stay a few hundred MB at 512² RGB.
OFFSET_CHUNK = 32


def pixel_bank(image: torch.Tensor, *, bank: int, window: int, patch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``bank`` most similar pixels of every pixel, the pixel itself first, and their distances.

    Parameters
    ----------
    image : Tensor
        ``(1, C, H, W)``.
    bank : int
        Pixels kept per pixel.
    window : int
        Side of the (odd) search window around each pixel.
    patch : int
        Side of the (odd) patches compared, by the mean squared difference over their pixels and
        channels.

    Returns
    -------
    values : Tensor
        ``(bank, C, H, W)``: entry ``k`` holds, at each pixel, its ``k``-th most similar pixel.
    distances : Tensor
        ``(bank, H, W)``: their patch distances, ascending (entry 0, the pixel itself, is 0).
    """
    _, channels, height, width = image.shape
    reach, half_patch = window // 2, patch // 2
    # Reflection cannot pad more than the image's side minus one; replication can.
    mode = "reflect" if reach < min(height, width) else "replicate"
    padded = F.pad(image, (reach,) * 4, mode=mode)[0]
    offsets = [(dy, dx) for dy in range(window) for dx in range(window) if (dy, dx) != (reach, reach)]
    best_values = image[0][None].clone()
    best_distances = torch.zeros(1, height, width, dtype=image.dtype, device=image.device)
    for start in range(0, len(offsets), OFFSET_CHUNK):
        chunk = offsets[start : start + OFFSET_CHUNK]
        candidates = torch.stack([padded[:, dy : dy + height, dx : dx + width] for dy, dx in chunk])
        squared = (candidates - image).pow(2).mean(dim=1, keepdim=True)
        # A patch's distance is the mean of its pixels' squared differences: a box filter.
        distances = F.avg_pool2d(F.pad(squared, (half_patch,) * 4, mode="replicate"), patch, stride=1).squeeze(1)
        all_distances = torch.cat([best_distances, distances])
        all_values = torch.cat([best_values, candidates])
        best_distances, index = all_distances.topk(min(bank, len(all_distances)), dim=0, largest=False)
        best_values = all_values.gather(0, index[:, None].expand(-1, channels, -1, -1))
    return best_values, best_distances


def bank_sizes(distances: torch.Tensor, sigma: float | None, similarity: float | None) -> torch.Tensor:
    """How many leading entries of each pixel's bank pseudo instances draw from, ``(1, 1, H, W)``.

    Two noisy shots of one patch differ by ``2σ²`` on average. Entries within ``similarity``
    times that (``sigma`` on the 0–255 scale) are kept, at least two: flat regions draw from
    the whole bank, textured ones from their few true twins. ``similarity`` or ``sigma`` None
    keeps all.
    """
    count, height, width = distances.shape
    if similarity is None or sigma is None:
        return torch.full((1, 1, height, width), count, device=distances.device)
    close = distances <= similarity * 2 * (sigma / 255) ** 2
    return close.sum(0).clamp(min=2)[None, None]


def twin_bank(
    image: torch.Tensor, *, sigma: float | None, bank: int, similarity: float | None, window: int, patch: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each pixel's bank (:func:`pixel_bank`) and how many of its entries pairs are drawn from
    (:func:`bank_sizes`), σ estimated from ``image`` when None and needed."""
    if similarity is not None and sigma is None:
        sigma = estimate_sigma(to_image(image))
    with torch.no_grad():
        pixels, distances = pixel_bank(image, bank=bank, window=window, patch=patch)
    return pixels, bank_sizes(distances, sigma, similarity)


class Pixel2PixelNet(nn.Module):
    """The original's compact network: five 3×3 convolutions with LeakyReLU, a 1×1, a sigmoid;
    orthogonal weights, zero biases."""

    def __init__(self, channels: int, width: int = 64, depth: int = 5) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for index in range(depth):
            layers += [nn.Conv2d(channels if index == 0 else width, width, 3, padding=1), nn.LeakyReLU(0.2)]
        layers += [nn.Conv2d(width, channels, 1), nn.Sigmoid()]
        self.body = nn.Sequential(*layers)
        for layer in self.body:
            if isinstance(layer, nn.Conv2d):  # the original's initialisation
                nn.init.orthogonal_(layer.weight)
                nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def pseudo_instances(
    bank: torch.Tensor, sizes: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two images drawn from ``bank`` ``(K, C, H, W)``: at each pixel, two different entries among
    its first ``sizes`` ``(1, 1, H, W)`` (each at least 2)."""
    channels = bank.shape[1]
    draw = lambda: torch.rand(sizes.shape, generator=generator, device=bank.device)  # noqa: E731
    first = (draw() * sizes).long()
    # A shift in 1..n-1 (mod n) makes the second entry always differ from the first.
    second = (first + 1 + (draw() * (sizes - 1)).long()) % sizes
    pick = lambda index: bank.gather(0, index.expand(1, channels, -1, -1))  # noqa: E731
    return pick(first), pick(second)


def train_pixel2pixel(
    image: torch.Tensor,
    *,
    sigma: float | None = None,
    iterations: int = 3000,
    lr: float = 1e-3,
    bank: int = 8,
    similarity: float | None = 1.0,
    window: int = 31,
    patch: int = 7,
    width: int = 64,
    crop: int = 0,
    seed: int = 0,
    precision: str = "auto",
    progress: Progress | None = None,
) -> tuple[Pixel2PixelNet, torch.Tensor]:
    """Train Pixel2Pixel's network on one image; it maps the noisy image to its estimate.

    Parameters
    ----------
    image : Tensor
        Noisy ``(1, C, H, W)`` in [0, 1], on the device to train on.
    sigma : float, optional
        Noise level on the 0–255 scale, for ``similarity``; estimated from the image if None.
    iterations : int
        Adam steps; the learning rate halves at 50, 67 and 83 % of them, as the original.
    lr : float
        Initial learning rate.
    bank : int
        Most similar pixels kept per pixel (at least 2); the original keeps 4 at σ 25.
    similarity : float or None
        Draw only from bank entries within this multiple of ``2σ²`` (see :func:`bank_sizes`);
        None draws from all ``bank``, as the original.
    window, patch : int
        Sides of the search window and of the compared patches (odd).
    width : int
        Channels of the hidden layers.
    crop : int
        Side of the random crop each step trains on; 0 or at least the image side: the whole image.
    seed : int
        Seed of the initialisation, the crops and the pseudo instances.
    precision : str
        ``"auto"``, ``"float32"`` or ``"bfloat16"``: the arithmetic of the training steps (see
        :func:`~denoisekit.precision.use_bfloat16`).
    progress : callable, optional
        Called every iteration with ``loss``; returning False raises
        :class:`~denoisekit.errors.Cancelled`.

    Returns
    -------
    net : Pixel2PixelNet
    twins : Tensor
        ``(1, 1, H, W)``: how many bank entries each pixel's pairs were drawn from, itself and its
        twins, at least 2 (see :func:`bank_sizes`).
    """
    if window % 2 == 0 or patch % 2 == 0:
        raise InputError(f"pixel2pixel: window and patch must be odd, got {window} and {patch}")
    if bank < 2:
        raise InputError(f"pixel2pixel: bank must hold at least 2 pixels to draw pairs from, got {bank}")
    if bank > window * window:
        raise InputError(f"pixel2pixel: a {window}×{window} window holds fewer than bank={bank} pixels")
    _, channels, height, width_px = image.shape
    pixels, sizes = twin_bank(image, sigma=sigma, bank=bank, similarity=similarity, window=window, patch=patch)
    generator = torch.Generator(device=image.device).manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = Pixel2PixelNet(channels, width).to(image.device)
    rng = np.random.default_rng(seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    milestones = [int(iterations * fraction) for fraction in (0.5, 0.67, 0.83)]
    schedule = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=0.5)
    crop_h = height if not crop or crop >= height else crop
    crop_w = width_px if not crop or crop >= width_px else crop

    def step_loss() -> torch.Tensor:
        top = rng.integers(0, height - crop_h + 1)
        left = rng.integers(0, width_px - crop_w + 1)
        rows, cols = slice(top, top + crop_h), slice(left, left + crop_w)
        source, target = pseudo_instances(pixels[:, :, rows, cols], sizes[:, :, rows, cols], generator)
        return F.mse_loss(net(source), target)

    train_steps(step_loss, optimizer, schedule, iterations, progress, use_bfloat16(precision, image.device))
    return net, sizes


def pixel2pixel(noisy: np.ndarray, *, views: int = 8, device: str = "cpu", **training: Any) -> np.ndarray:
    """Denoise one image with Pixel2Pixel.

    Parameters
    ----------
    noisy : ndarray
        float32 ``(H, W, C)`` in [0, 1].
    views : int
        1, or 8: average the outputs over the image's rotations and flips.
    device : str
        Torch device.
    **training
        Keyword arguments of :func:`train_pixel2pixel`.

    Returns
    -------
    ndarray
        float32 ``(H, W, C)`` in [0, 1].
    """
    if views not in (1, 8):
        raise InputError(f"pixel2pixel: views must be 1 or 8, got {views}")
    image = to_tensor(noisy, device)
    net, _ = train_pixel2pixel(image, **training)
    with torch.no_grad():
        return to_image(apply_views(net, image, views))
