"""A collaborative Wiener step guided by a first estimate: BM3D's second stage (Dabov et al.,
TIP 2007) with any pilot, here the zero-shot networks' blend.

For reference patches on a grid, the ``group`` patches whose *pilot* patches are closest within
a search window are stacked, and the stack is moved to a separable 3-D DCT. Where the pilot's
coefficient ``P`` is strong, the noisy coefficient is kept; where it is weak next to the noise,
it is shrunk: ``P² / (P² + σ²)``, the Wiener gain if the pilot were the clean image. Patches are
then put back, each group weighted by the inverse of its estimate's noise variance. Matching on
the pilot finds similar patches that noise hides, and the gains come from an estimate whose
errors are not the noisy image's.

Colour images are filtered in an orthonormal opponent space (the noise stays white and keeps
its σ), matched on the luminance as BM3D does.

Examples
--------
>>> import torch
>>> noisy = torch.rand(1, 1, 32, 32)
>>> collaborative_wiener(noisy, noisy.clamp(0.2, 0.8), sigma=0.1).shape
torch.Size([1, 1, 32, 32])
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# BM3D's Wiener profile (Dabov et al.): 8×8 patches every 3 pixels, Kaiser-windowed. The group and
# the window are smaller than its 32 and 39×39: cheaper, and the pilot is already good.
PATCH = 8
STEP = 3
GROUP = 16
WINDOW = 25
KAISER_BETA = 2.0
OFFSET_CHUNK = 16  # offsets matched at once: (chunk, H, W) distances stay small (as fast as 64)
REFERENCE_CHUNK = 4096  # groups filtered at once: their patches stay a few tens of MB


def dct_matrix(size: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """The orthonormal DCT-II as a ``(size, size)`` matrix: ``D @ x`` transforms, ``D.T @ y`` inverts."""
    k = torch.arange(size, dtype=torch.float64)[:, None]
    n = torch.arange(size, dtype=torch.float64)[None]
    matrix = torch.cos(math.pi * (2 * n + 1) * k / (2 * size)) * math.sqrt(2 / size)
    matrix[0] /= math.sqrt(2)
    return matrix.float().to(device)


def opponent(channels: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """An orthonormal ``(C, C)`` colour transform, luminance first (the identity for gray)."""
    if channels != 3:
        return torch.eye(channels, device=device)
    rows = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, -1.0], [1.0, -2.0, 1.0]])
    return (rows / rows.norm(dim=1, keepdim=True)).to(device)


def grid(length: int) -> torch.Tensor:
    """Reference positions along one side: every ``STEP``, and the last one so the edge is covered."""
    last = length - PATCH
    positions = list(range(0, last + 1, STEP))
    return torch.tensor(positions if positions[-1] == last else [*positions, last])


def match(pilot: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, group: int, window: int) -> torch.Tensor:
    """The top-left corners ``(2, group, R)`` of the ``group`` patches of ``pilot`` ``(H, W)``
    closest to each of the ``R`` reference patches (the grid of ``rows`` × ``cols``), the
    reference itself first."""
    height, width = pilot.shape
    reach = window // 2
    ref_y, ref_x = torch.meshgrid(rows, cols, indexing="ij")
    ref_y, ref_x = ref_y.reshape(-1), ref_x.reshape(-1)
    # Padding with +inf leaves patches outside the image infinitely far.
    padded = F.pad(pilot[None, None], (reach,) * 4, value=float("inf"))[0, 0]
    offsets = [(dy, dx) for dy in range(-reach, reach + 1) for dx in range(-reach, reach + 1) if dy or dx]
    # Entry 0 of the table, the reference itself, starts every group: at distance −1, no tie (in a
    # flat region) can push it out, and every pixel lies in some reference patch.
    best = torch.full((1, ref_y.numel()), -1.0, device=pilot.device)
    best_offset = torch.zeros(1, ref_y.numel(), dtype=torch.long, device=pilot.device)
    for start in range(0, len(offsets), OFFSET_CHUNK):
        chunk = offsets[start : start + OFFSET_CHUNK]
        shifted = torch.stack(
            [padded[reach + dy : reach + dy + height, reach + dx : reach + dx + width] for dy, dx in chunk]
        )
        squared = (shifted - pilot).pow(2)[:, None]
        # A patch's distance is a box sum: along rows, then down the grid's columns only.
        across = F.avg_pool2d(squared, (1, PATCH), stride=1)[:, 0][..., cols]
        candidates = F.avg_pool2d(across[:, None], (PATCH, 1), stride=1)[:, 0][:, rows].reshape(len(chunk), -1)
        indices = torch.arange(start + 1, start + 1 + len(chunk), device=pilot.device)[:, None].expand_as(candidates)
        keep = min(group, best.shape[0] + candidates.shape[0])
        best, order = torch.cat([best, candidates]).topk(keep, dim=0, largest=False)
        best_offset = torch.cat([best_offset, indices]).gather(0, order)
    best_offset[best.isinf()] = 0  # a small image has fewer patches than a group: repeat the reference
    table = torch.tensor([(0, 0), *offsets], device=pilot.device)  # (1 + offsets, 2)
    chosen = table[best_offset]  # (group, R, 2)
    return torch.stack([ref_y + chosen[..., 0], ref_x + chosen[..., 1]])  # (2, group, R)


def collaborative_wiener(
    noisy: torch.Tensor,
    pilot: torch.Tensor,
    *,
    sigma: float,
    group: int = GROUP,
    window: int = WINDOW,
) -> torch.Tensor:
    """Refine ``pilot`` by Wiener-filtering groups of ``noisy``'s patches matched on it.

    Parameters
    ----------
    noisy, pilot : Tensor
        ``(1, C, H, W)`` in [0, 1]; a side shorter than ``PATCH`` is padded for the filtering.
    sigma : float
        The noise's standard deviation on the [0, 1] scale.
    group : int
        Patches per group, the reference included.
    window : int
        Side of the (odd) search window around each reference patch.

    Returns
    -------
    Tensor
        ``(1, C, H, W)``: the Wiener estimate (not clipped).
    """
    _, channels, height, width = noisy.shape
    if min(height, width) < PATCH:
        pad = (0, max(PATCH - width, 0), 0, max(PATCH - height, 0))
        padded = [F.pad(x, pad, mode="replicate") for x in (noisy, pilot)]
        return collaborative_wiener(*padded, sigma=sigma, group=group, window=window)[..., :height, :width]
    sigma = max(sigma, 1e-6)  # σ = 0 (an estimate on a clean image) would make the weights infinite
    device = noisy.device
    colour = opponent(channels, device)
    to_space = lambda x: torch.einsum("dc,chw->dhw", colour, x[0])  # noqa: E731
    noisy_o, pilot_o = to_space(noisy), to_space(pilot)
    rows, cols = grid(height).to(device), grid(width).to(device)
    corners = match(pilot_o[0], rows, cols, group, window)  # (2, group, R)
    group = corners.shape[1]
    d_patch, d_group = dct_matrix(PATCH, device), dct_matrix(group, device)
    d_square = torch.kron(d_patch, d_patch)  # the 2-D DCT of a flattened patch

    def transform(groups: torch.Tensor, inverse: bool = False) -> torch.Tensor:
        """The separable 3-D DCT of ``(C, group, R, PATCH²)`` groups, or its inverse."""
        if inverse:
            return torch.einsum("gk,cgrp->ckrp", d_group, groups) @ d_square
        return torch.einsum("gk,ckrp->cgrp", d_group, groups @ d_square.T)

    kaiser = torch.kaiser_window(PATCH, periodic=False, beta=KAISER_BETA, device=device)
    kaiser = kaiser[:, None] * kaiser[None]
    steps = torch.arange(PATCH, device=device)
    numerator = torch.zeros(channels, height * width, device=device)
    denominator = torch.zeros(height * width, device=device)
    for start in range(0, corners.shape[2], REFERENCE_CHUNK):
        ys, xs = corners[0, :, start : start + REFERENCE_CHUNK], corners[1, :, start : start + REFERENCE_CHUNK]
        # The flat pixel indices of every patch of every group, (group, R, PATCH²)
        pixel_y = ys[..., None, None] + steps[:, None]
        pixel_x = xs[..., None, None] + steps[None, :]
        index = (pixel_y * width + pixel_x).flatten(2)
        flat, shape = index.reshape(-1), (channels, *index.shape)

        noisy_t = transform(noisy_o.reshape(channels, -1)[:, flat].reshape(shape))
        pilot_t = transform(pilot_o.reshape(channels, -1)[:, flat].reshape(shape))
        power = pilot_t.pow(2)
        gain = power / (power + sigma**2)
        estimate = transform(gain * noisy_t, inverse=True)
        # Each group's weight: the inverse of its estimate's noise variance, σ² Σ gain².
        weight = 1.0 / (sigma**2 * gain.pow(2).sum(dim=(0, 1, 3)).clamp(min=1e-12))  # (R,)
        weighted = weight[None, None, :, None] * kaiser.reshape(-1)
        numerator.index_add_(1, flat, (estimate * weighted).reshape(channels, -1))
        denominator.index_add_(0, flat, weighted.expand(1, *shape[1:]).reshape(-1))
    restored = numerator.reshape(channels, height, width) / denominator.reshape(height, width).clamp(min=1e-12)
    return torch.einsum("cd,chw->dhw", colour, restored)[None]
