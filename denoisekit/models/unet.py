"""The CPU-first default: a small residual U-Net on pixel-unshuffled input, told the noise level.

Why this shape (see docs/BENCHMARKS.md for the measurements):

- *Pixel-unshuffle* (as FFDNet) folds each 2×2 block into channels, so every convolution runs
  on a quarter of the pixels; two more 2× downsamplings give a wide receptive field for little
  cost. FLOPs per pixel are about a tenth of DnCNN's.
- A *noise-level map* (σ/255, one channel) lets one network serve every noise level: blind use
  feeds it the estimated σ, and a user can raise or lower it to trade detail for smoothness.
- *Residual blocks without batch norm* train quickly with Adam and behave the same in training
  and inference, so tiles and batches of any size give identical results.
- The network predicts the noise, subtracted from the input (residual learning, as DnCNN).
"""

from __future__ import annotations

from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from denoisekit.models import register_model


class ResBlock(nn.Module):
    """conv 3×3, ReLU, conv 3×3, plus the input."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(width, width, 3, padding=1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


@register_model("unet")
class LiteUNet(nn.Module):
    """Residual U-Net with ``len(widths)`` scales below a 2× pixel-unshuffle.

    Parameters
    ----------
    channels : int
        Image channels (1 gray, 3 color).
    widths : tuple of int
        Feature channels at 1/2, 1/4, 1/8… of the input resolution.
    blocks : int
        Residual blocks per scale, in the encoder and in the decoder alike.
    noise_map : bool
        Condition on ``sigma`` (a constant σ/255 map); without it the model is blind.
    residual : bool
        Predict the noise and subtract it from the input (the default), or predict the image
        directly, as Noise2Void needs: its masked pixels must not reach the output unchanged.

    >>> LiteUNet(channels=1, widths=(8, 16))(torch.zeros(1, 1, 30, 30), torch.tensor([25.0])).shape
    torch.Size([1, 1, 30, 30])
    """

    def __init__(
        self,
        channels: int = 1,
        widths: tuple[int, ...] = (32, 64, 128, 256),
        blocks: int = 2,
        noise_map: bool = True,
        residual: bool = True,
    ) -> None:
        super().__init__()
        widths = tuple(widths)
        self.noise_map, self.residual = noise_map, residual
        self.multiple = 2 ** len(widths)
        self.head = nn.Conv2d(4 * channels + int(noise_map), widths[0], 3, padding=1)
        self.encoders = nn.ModuleList(nn.Sequential(*(ResBlock(w) for _ in range(blocks))) for w in widths[:-1])
        self.downs = nn.ModuleList(nn.Conv2d(a, b, 2, stride=2) for a, b in pairwise(widths))
        self.bottom = nn.Sequential(*(ResBlock(widths[-1]) for _ in range(blocks)))
        self.ups = nn.ModuleList(nn.ConvTranspose2d(b, a, 2, stride=2) for a, b in pairwise(widths))
        self.decoders = nn.ModuleList(nn.Sequential(*(ResBlock(w) for _ in range(blocks))) for w in widths[:-1])
        self.tail = nn.Conv2d(widths[0], 4 * channels, 3, padding=1)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | None = None) -> torch.Tensor:
        height, width = x.shape[-2:]
        pad = (0, -width % self.multiple, 0, -height % self.multiple)
        padded = F.pad(x, pad, mode="reflect") if any(pad) else x
        features = F.pixel_unshuffle(padded, 2)
        if self.noise_map:
            if sigma is None:
                raise ValueError("this model is told the noise level: pass sigma")
            level = (sigma.to(x.dtype) / 255.0).view(-1, 1, 1, 1).expand(x.shape[0], 1, *features.shape[-2:])
            features = torch.cat([features, level], dim=1)
        h = self.head(features)
        skips = []
        for encoder, down in zip(self.encoders, self.downs, strict=True):
            h = encoder(h)
            skips.append(h)
            h = down(h)
        h = self.bottom(h)
        for up, decoder, skip in zip(reversed(self.ups), reversed(self.decoders), reversed(skips), strict=True):
            h = decoder(up(h) + skip)
        out = F.pixel_shuffle(self.tail(h), 2)
        return (padded - out if self.residual else out)[..., :height, :width]
