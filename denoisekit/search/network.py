"""Build a NAS-DIP encoder–decoder from a :class:`~denoisekit.search.space.Genotype`.

The encoder is the skip network's (:mod:`denoisekit.zeroshot.skipnet`): each level halves the
resolution with a strided 3×3 convolution, then a 3×3 convolution, each followed by batch
norm and LeakyReLU(0.2). The decoder climbs back one level at a time::

    h ── upsample ×2 ── transform (k, dilation) ── BN ── activation ─┬─ + Σ link_j(e_j) ── 1×1 conv ── BN ── act
                                                                      │
    encoder level j ── 1×1 conv ── BN ── act ── resample to h's size ─┘   (for each j the genotype names)

and a 1×1 convolution and a sigmoid make the image. Encoder level ``j`` has half the
resolution of decoder level ``j``; links from finer levels are average-pooled, from coarser
ones bilinearly upsampled. The fixed 1×1 block after the sum mixes what was added.

Convolutions pad by reflection, as DIP does, and fall back to replicating the border where a
feature map is too small for the padding (a 7×7 kernel dilated by 3 on the coarsest levels),
so every genotype runs on every input whose sides are multiples of ``multiple`` and at least
``min_size``; :func:`denoisekit.zeroshot.dip.fit` pads its input code to that.

Examples
--------
>>> import torch
>>> from denoisekit.search.space import default_genotype
>>> net = build_network(default_genotype(3), in_channels=8, out_channels=1, finest=4, width=8)
>>> net(torch.zeros(1, 8, 16, 24)).shape, net.multiple, net.min_size
(torch.Size([1, 1, 16, 24]), 8, 16)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from denoisekit.search.space import Cell, Genotype
from denoisekit.zeroshot.skipnet import SkipConfig

NEGATIVE_SLOPE = 0.2


class _Pad(nn.Module):
    """Reflection padding where the map is large enough, replication where it is not."""

    def __init__(self, pad: int) -> None:
        super().__init__()
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mode = "reflect" if self.pad < min(x.shape[-2:]) else "replicate"
        return F.pad(x, (self.pad,) * 4, mode=mode)


class _Fold(nn.Module):
    """Split-stack-sum: channel groups summed into ``channels`` (repeated first if there are fewer)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        groups = -(-x.shape[1] // self.channels)
        index = torch.arange(groups * self.channels, device=x.device) % x.shape[1]
        stacked = x[:, index].reshape(x.shape[0], groups, self.channels, *x.shape[2:])
        return stacked.sum(dim=1)


def _conv(cin: int, cout: int, kernel: int, dilation: int = 1, stride: int = 1, groups: int = 1) -> nn.Module:
    pad = dilation * (kernel - 1) // 2
    conv = nn.Conv2d(cin, cout, kernel, stride=stride, dilation=dilation, groups=groups)
    return nn.Sequential(_Pad(pad), conv) if pad else conv


def _norm_act(channels: int, activation: str = "leaky-relu") -> list[nn.Module]:
    layers: list[nn.Module] = [nn.BatchNorm2d(channels)]
    if activation == "relu":
        layers.append(nn.ReLU(inplace=True))
    elif activation == "leaky-relu":
        layers.append(nn.LeakyReLU(NEGATIVE_SLOPE, inplace=True))
    return layers


def _upsample(name: str, channels: int) -> nn.Module:
    if name == "pixel-shuffle":
        return nn.Sequential(nn.Conv2d(channels, 4 * channels, 1), nn.PixelShuffle(2))
    if name == "transposed-conv":
        return nn.ConvTranspose2d(channels, channels, 4, stride=2, padding=1)
    corners = {"align_corners": False} if name in ("bilinear", "bicubic") else {}
    return nn.Upsample(scale_factor=2, mode=name, **corners)


def _transform(cell: Cell, cin: int, cout: int) -> nn.Module:
    k, d = cell.kernel, cell.dilation
    if cell.transform == "conv":
        return _conv(cin, cout, k, d)
    if cell.transform == "transposed-conv":
        return nn.ConvTranspose2d(cin, cout, k, padding=d * (k - 1) // 2, dilation=d)
    if cell.transform == "additive":
        return _Fold(cout)
    if cell.transform == "separable":
        return nn.Sequential(_conv(cin, cin, k, d, groups=cin), nn.Conv2d(cin, cout, 1))
    if cell.transform == "depthwise":
        return nn.Sequential(_conv(cin, cin, k, d, groups=cin), _Fold(cout))
    return nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)  # identity


def _resample(x: torch.Tensor, size: torch.Size) -> torch.Tensor:
    if x.shape[-2:] == size:
        return x
    if x.shape[-1] > size[-1]:
        return F.adaptive_avg_pool2d(x, size)
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class _DecoderLevel(nn.Module):
    """One upsampling cell, its cross-level links and the 1×1 block mixing them."""

    def __init__(self, cell: Cell, cin: int, cout: int, sources: dict[int, int]) -> None:
        super().__init__()
        self.cell = nn.Sequential(
            _upsample(cell.upsample, cin), _transform(cell, cin, cout), *_norm_act(cout, cell.activation)
        )
        self.links = nn.ModuleDict(
            {str(j): nn.Sequential(nn.Conv2d(c, cout, 1), *_norm_act(cout)) for j, c in sources.items()}
        )
        self.mix = nn.Sequential(nn.Conv2d(cout, cout, 1), *_norm_act(cout))

    def forward(self, x: torch.Tensor, encoded: list[torch.Tensor]) -> torch.Tensor:
        h = self.cell(x)
        for j, link in self.links.items():
            h = h + _resample(link(encoded[int(j)]), h.shape[-2:])
        return self.mix(h)


class NASDIPNet(nn.Module):
    """An encoder–decoder whose decoder a genotype describes, ending in a 1×1 conv and a sigmoid.

    Parameters
    ----------
    genotype : Genotype
        Cells and cross-level connections.
    in_channels, out_channels : int
        Channels of the input code and of the image.
    channels : sequence of int
        Width of each level, finest first (``genotype.depth`` entries).
    """

    def __init__(self, genotype: Genotype, in_channels: int, out_channels: int, channels: tuple[int, ...]) -> None:
        super().__init__()
        depth = genotype.depth
        if len(channels) != depth:
            raise ValueError(f"channels needs {depth} entries, one per level")
        self.genotype = genotype
        self.encoder = nn.ModuleList()
        cin = in_channels
        for width in channels:
            self.encoder.append(
                nn.Sequential(
                    _conv(cin, width, 3, stride=2), *_norm_act(width), _conv(width, width, 3), *_norm_act(width)
                )
            )
            cin = width
        self.decoder = nn.ModuleList(
            _DecoderLevel(
                genotype.cell(level),
                channels[min(level + 1, depth - 1)],
                channels[level],
                {j: channels[j] for j in genotype.connections[level]},
            )
            for level in range(depth)
        )
        self.head = nn.Sequential(nn.Conv2d(channels[0], out_channels, 1), nn.Sigmoid())
        #: As the skip network: sides divisible by one halving per level, and the coarsest
        #: level keeps 2×2 pixels for batch norm.
        self.multiple = 2**depth
        self.min_size = 2 ** (depth + 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        encoded = []
        for level in self.encoder:
            x = level(x)
            encoded.append(x)
        for level in reversed(range(len(self.decoder))):
            x = self.decoder[level](x, encoded)
        return self.head(x)


def build_network(
    genotype: Genotype, in_channels: int = 32, out_channels: int = 3, finest: int = 8, width: int = 128
) -> NASDIPNet:
    """A randomly initialised network for ``genotype`` (seed torch first for a reproducible one).

    Parameters
    ----------
    genotype : Genotype
        The architecture.
    in_channels, out_channels : int
        Channels of the code ``z`` and of the image (1 or 3).
    finest, width : int
        Channels at the finest level, doubling per level up to ``width`` (as ``dip``'s pyramid;
        the search's proxy budget narrows them).

    Returns
    -------
    NASDIPNet
        Fittable by :func:`denoisekit.zeroshot.dip.fit`.
    """
    channels = SkipConfig.pyramid(finest, width, genotype.depth).channels
    return NASDIPNet(genotype, in_channels, out_channels, channels)
