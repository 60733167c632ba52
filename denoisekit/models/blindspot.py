"""A blind-spot network in the style of Laine et al., "High-Quality Self-Supervised Deep Image
Denoising" (NeurIPS 2019): each output pixel is predicted from its neighbours only, never from
itself, so it can be trained to reproduce the noisy image on every pixel without learning the
identity.

How the centre is excluded:

- every convolution is *shifted* (zero rows on top, as many rows cropped at the bottom), so a
  feature at row ``y`` sees rows ``≤ y`` only; downsampling shifts by one row before pooling;
- at the end the features are shifted down by one more row: the receptive field is then the
  half-plane strictly above the pixel;
- four branches see the input rotated by 0/90/180/270° (so "above" is each of the four
  directions), are rotated back and fused by 1×1 convolutions: together they see every pixel
  except the centre.

Zero padding (never reflection) keeps image borders from mirroring the centre into view.

With ``posterior=True`` the network predicts a Gaussian prior (mean and covariance) for each
clean pixel and, told the noise level, returns the posterior mean that combines the prediction
with the noisy pixel itself (Laine et al.'s Bayesian refinement). See
:mod:`denoisekit.training.blindspot` for the training loss.
"""

from __future__ import annotations

from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from denoisekit.models import register_model


def shift_down(x: torch.Tensor, rows: int = 1) -> torch.Tensor:
    """Move features ``rows`` down (zeros enter at the top): row ``y`` then holds row ``y − rows``."""
    return F.pad(x, (0, 0, rows, 0))[..., : x.shape[-2], :]


class ShiftedConv(nn.Conv2d):
    """A 'same' convolution whose output at row ``y`` depends only on input rows ``≤ y``."""

    def __init__(self, cin: int, cout: int, kernel: int = 3) -> None:
        super().__init__(cin, cout, kernel, padding=kernel // 2)
        self.offset = kernel // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(shift_down(x, self.offset))


def _stage(cin: int, cout: int, convs: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(convs):
        layers += [ShiftedConv(cin if i == 0 else cout, cout), nn.LeakyReLU(0.1, inplace=True)]
    return nn.Sequential(*layers)


class UpwardUNet(nn.Module):
    """A U-Net whose every output sees only the rows above it (one branch of the blind-spot net)."""

    def __init__(self, channels: int, widths: tuple[int, ...], convs: int) -> None:
        super().__init__()
        self.encoders = nn.ModuleList(_stage(a, b, convs) for a, b in pairwise((channels, *widths)))
        self.bottom = _stage(widths[-1], widths[-1], convs)
        self.decoders = nn.ModuleList(_stage(2 * w, w, convs) for w in widths)
        self.ups = nn.ModuleList(nn.Conv2d(b, a, 1) for a, b in pairwise((*widths, widths[-1])))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for encoder in self.encoders:
            x = encoder(x)
            skips.append(x)
            x = F.max_pool2d(shift_down(x), 2)  # the shift keeps pooling from reaching below
        x = self.bottom(x)
        for up, decoder, skip in zip(reversed(self.ups), reversed(self.decoders), reversed(skips), strict=True):
            x = decoder(torch.cat([F.interpolate(up(x), scale_factor=2.0, mode="nearest"), skip], dim=1))
        return shift_down(x)  # from "rows ≤ y" to "rows < y": the blind spot


@register_model("blindspot")
class BlindSpotNet(nn.Module):
    """Four rotated upward-looking U-Nets fused by 1×1 convolutions; blind to each centre pixel.

    Parameters
    ----------
    channels : int
        Image channels (1 gray, 3 color).
    widths : tuple of int
        Feature channels per scale of each branch (the branches share their weights).
    convs : int
        Shifted 3×3 convolutions per stage.
    posterior : bool
        Predict mean and covariance and return the posterior mean given ``sigma``.

    >>> net = BlindSpotNet(channels=1, widths=(8, 8))
    >>> net(torch.zeros(1, 1, 13, 10)).shape
    torch.Size([1, 1, 13, 10])
    """

    def __init__(
        self, channels: int = 1, widths: tuple[int, ...] = (32, 48, 64), convs: int = 2, posterior: bool = False
    ) -> None:
        super().__init__()
        widths = tuple(widths)
        self.channels, self.posterior = channels, posterior
        self.multiple = 2 ** len(widths)
        self.branch = UpwardUNet(channels, widths, convs)
        # Mean, then the lower-triangular factor of the prior covariance (C(C+1)/2 numbers).
        outputs = channels + (channels * (channels + 1) // 2 if posterior else 0)
        fused = 4 * widths[0]
        self.fuse = nn.Sequential(
            nn.Conv2d(fused, fused, 1), nn.LeakyReLU(0.1, inplace=True),
            nn.Conv2d(fused, fused // 2, 1), nn.LeakyReLU(0.1, inplace=True),
            nn.Conv2d(fused // 2, outputs, 1),
        )  # fmt: skip

    def heads(self, x: torch.Tensor) -> torch.Tensor:
        """The raw per-pixel outputs: the predicted mean (and covariance factors with ``posterior``)."""
        height, width = x.shape[-2:]
        side = -max(height, width) % self.multiple + max(height, width)
        # One square canvas (zeros outside the image) so the four rotations batch together.
        canvas = F.pad(x, (0, side - width, 0, side - height))
        rotated = torch.cat([torch.rot90(canvas, k, dims=(2, 3)) for k in range(4)])
        features = self.branch(rotated).chunk(4)
        restored = [torch.rot90(f, -k, dims=(2, 3)) for k, f in enumerate(features)]
        return self.fuse(torch.cat(restored, dim=1))[..., :height, :width]

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | None = None) -> torch.Tensor:
        out = self.heads(x)
        mean = out[:, : self.channels]
        if not self.posterior:
            return mean
        if sigma is None:
            raise ValueError("the posterior-mean network needs the noise level: pass sigma")
        return posterior_mean(mean, prior_covariance(out, self.channels), x, sigma.to(x.dtype) / 255.0)


def prior_covariance(out: torch.Tensor, channels: int) -> torch.Tensor:
    """The per-pixel prior covariance ``A Aᵀ`` from the head's factors, as ``(N, H, W, C, C)``."""
    factors = out[:, channels:].permute(0, 2, 3, 1)
    rows, cols = torch.tril_indices(channels, channels, device=out.device)
    a = out.new_zeros(*factors.shape[:3], channels, channels)
    a[..., rows, cols] = factors
    return a @ a.transpose(-1, -2) + 1e-6 * torch.eye(channels, device=out.device, dtype=out.dtype)


def posterior_mean(
    mean: torch.Tensor, covariance: torch.Tensor, noisy: torch.Tensor, sigma: torch.Tensor
) -> torch.Tensor:
    """E[clean | noisy] for prior N(mean, covariance) and Gaussian noise of std ``sigma`` (0–1 scale):
    ``(Σ⁻¹ + σ⁻² I)⁻¹ (Σ⁻¹ μ + σ⁻² y)``, computed as ``μ + Σ (Σ + σ² I)⁻¹ (y − μ)``."""
    channels = mean.shape[1]
    variance = (sigma.view(-1, 1, 1, 1, 1) ** 2) * torch.eye(channels, device=mean.device, dtype=mean.dtype)
    residual = (noisy - mean).permute(0, 2, 3, 1).unsqueeze(-1)
    gain = torch.linalg.solve(covariance + variance, residual)
    return mean + (covariance @ gain).squeeze(-1).permute(0, 3, 1, 2)
