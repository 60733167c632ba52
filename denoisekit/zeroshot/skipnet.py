"""The "skip" encoder–decoder of Deep Image Prior (Ulyanov, Vedaldi & Lempitsky, CVPR 2018).

Each level halves the resolution with a strided convolution, goes one level deeper, upsamples
back and concatenates a few "skip" channels computed at its own resolution::

    x ─┬─ skip: conv1×1 → BN → act ────────────────────────────┐
       └─ down: conv(stride 2) → BN → act → conv → BN → act ─┐  │
                   [next level]  → upsample ×2 ──────────────┴──┴ concat → BN
          → conv → BN → act (→ conv1×1 → BN → act)

The builder only describes a network; :mod:`denoisekit.zeroshot.dip` fits any module that maps
a code ``(1, C_in, H, W)`` to an image ``(1, C_out, H, W)`` and exposes ``multiple`` (the size
the input sides must be divisible by), so searched decoders (NAS-DIP) reuse the same loop.

Examples
--------
>>> import torch
>>> net = build_skip_net(SkipConfig(channels=(8, 8), skip=(2, 2)), in_channels=4, out_channels=3)
>>> net(torch.zeros(1, 4, 16, 16)).shape
torch.Size([1, 3, 16, 16])
>>> net.multiple
4
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

UPSAMPLE_MODES = ("nearest", "bilinear")


@dataclass(frozen=True)
class SkipConfig:
    """Shape of a skip network, one entry per level (finest first).

    The original denoising setup is five levels of 128 channels with 4 skip channels,
    bilinear upsampling, reflection padding, LeakyReLU(0.2) and batch norm:
    :data:`ULYANOV_DENOISING`.
    """

    channels: tuple[int, ...] = (128, 128, 128, 128, 128)
    skip: tuple[int, ...] = (4, 4, 4, 4, 4)
    kernel: int = 3
    upsample: str = "bilinear"
    batch_norm: bool = True
    negative_slope: float = 0.2
    up_1x1: bool = True
    #: Fit the image as ``unshuffle²`` phase images of 1/``unshuffle`` the side (pixel unshuffle
    #: in, pixel shuffle out): each level costs a quarter per channel (factor 2). The fit rises
    #: faster but peaks lower (docs/BENCHMARKS.md, "Zero-shot"), so 1 is the default.
    unshuffle: int = 1

    def __post_init__(self) -> None:
        if not self.channels or len(self.channels) != len(self.skip):
            raise ValueError("channels and skip need one entry per level")
        if self.upsample not in UPSAMPLE_MODES:
            raise ValueError(f"upsample must be one of {UPSAMPLE_MODES}")
        if self.unshuffle < 1:
            raise ValueError("unshuffle must be at least 1")

    @property
    def depth(self) -> int:
        return len(self.channels)

    @classmethod
    def pyramid(cls, finest: int, width: int, depth: int, skip: int = 4, **options: object) -> SkipConfig:
        """``finest`` channels at the finest level, doubling per level up to ``width``.

        Examples
        --------
        >>> SkipConfig.pyramid(8, 128, 5).channels
        (8, 16, 32, 64, 128)
        """
        channels = tuple(min(width, finest * 2**level) for level in range(depth))
        return cls(channels=channels, skip=(skip,) * depth, **options)


#: The configuration of Ulyanov et al.'s denoising experiments (F-16, Kodak, Set14).
ULYANOV_DENOISING = SkipConfig()


def _conv(cin: int, cout: int, kernel: int, stride: int = 1) -> nn.Module:
    # Reflection padding, as in the original: zero padding darkens the borders of the fit.
    pad = (kernel - 1) // 2
    conv = nn.Conv2d(cin, cout, kernel, stride=stride, bias=True)
    return nn.Sequential(nn.ReflectionPad2d(pad), conv) if pad else conv


def _block(cin: int, cout: int, kernel: int, config: SkipConfig, stride: int = 1) -> list[nn.Module]:
    layers = [_conv(cin, cout, kernel, stride)]
    if config.batch_norm:
        layers.append(nn.BatchNorm2d(cout))
    layers.append(nn.LeakyReLU(config.negative_slope, inplace=True))
    return layers


class _Level(nn.Module):
    """One resolution level; ``inner`` is the next coarser level (None at the bottom)."""

    def __init__(self, cin: int, level: int, config: SkipConfig) -> None:
        super().__init__()
        width, skip, k = config.channels[level], config.skip[level], config.kernel
        last = level == config.depth - 1
        self.skip = nn.Sequential(*_block(cin, skip, 1, config)) if skip else None
        self.down = nn.Sequential(*_block(cin, width, k, config, stride=2), *_block(width, width, k, config))
        self.inner = None if last else _Level(width, level + 1, config)
        deeper = width if last else config.channels[level + 1]
        self.up_sample = nn.Upsample(scale_factor=2, mode=config.upsample)
        merge = [nn.BatchNorm2d(skip + deeper)] if config.batch_norm else []
        merge += _block(skip + deeper, width, k, config)
        if config.up_1x1:
            merge += _block(width, width, 1, config)
        self.merge = nn.Sequential(*merge)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        deeper = self.down(x)
        if self.inner is not None:
            deeper = self.inner(deeper)
        deeper = self.up_sample(deeper)
        if self.skip is not None:
            deeper = torch.cat([self.skip(x), deeper], dim=1)
        return self.merge(deeper)


class SkipNet(nn.Module):
    """A skip encoder–decoder ending in a 1×1 convolution and a sigmoid (outputs in (0, 1)),
    optionally working on the pixel-unshuffled input and output (``config.unshuffle``)."""

    def __init__(self, config: SkipConfig, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.config = config
        phases = config.unshuffle**2
        self.body = _Level(in_channels * phases, 0, config)
        self.head = nn.Sequential(nn.Conv2d(config.channels[0], out_channels * phases, 1), nn.Sigmoid())
        #: Input height and width must be multiples of this (one halving per level) and at least
        #: ``min_size``, so the coarsest level keeps 2×2 pixels for its padding and batch norm.
        self.multiple = 2**config.depth * config.unshuffle
        self.min_size = 2 ** (config.depth + 1) * config.unshuffle

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        factor = self.config.unshuffle
        if factor == 1:
            return self.head(self.body(x))
        return nn.functional.pixel_shuffle(self.head(self.body(nn.functional.pixel_unshuffle(x, factor))), factor)


def build_skip_net(config: SkipConfig, in_channels: int = 32, out_channels: int = 3) -> SkipNet:
    """Build a randomly initialised skip network (PyTorch's default initialisation, as the original).

    Parameters
    ----------
    config : SkipConfig
        Levels, widths, skip channels, kernel size, upsampling mode, batch norm.
    in_channels : int
        Channels of the input code ``z``.
    out_channels : int
        Channels of the image (1 or 3).

    Returns
    -------
    SkipNet
        The module; input sides must be divisible by ``net.multiple`` and at least ``net.min_size``.

    Examples
    --------
    >>> net = build_skip_net(SkipConfig(channels=(16, 16, 16), skip=(4, 4, 4)), 8, 1)
    >>> sum(p.numel() for p in net.parameters()) > 0
    True
    """
    return SkipNet(config, in_channels, out_channels)
