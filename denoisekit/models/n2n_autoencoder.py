"""The Noise2Noise mini-project's autoencoder and its weight initialisations."""

from __future__ import annotations

import torch
from torch import nn

from denoisekit.models import register_model

INITIALISATIONS = ("default", "default-positive", "xavier", "xavier-positive", "zeros")


@register_model("n2n-autoencoder")
class N2NAutoencoder(nn.Module):
    """5 Conv2d (kernel 2, stride 1, padding 1) C→64→64→128→256→512, then 5 ConvTranspose2d
    (same geometry) back to C, ReLU between; BatchNorm after the 3rd and 4th conv and after the
    1st and 2nd transposed conv. Each conv grows the image by one pixel and each transposed conv
    shrinks it by one, so the output has the input's size.

    ``init``: ``default`` (PyTorch's), ``xavier`` (Glorot uniform, zero biases), their
    ``-positive`` variants (negative weights then set to 0, as in the mini-project), or ``zeros``.

    >>> N2NAutoencoder(channels=3, init="xavier-positive")(torch.zeros(1, 3, 12, 12)).shape
    torch.Size([1, 3, 12, 12])
    """

    def __init__(self, channels: int = 3, init: str = "default") -> None:
        super().__init__()
        if init not in INITIALISATIONS:
            raise ValueError(f"init must be one of {', '.join(INITIALISATIONS)}, not {init!r}")
        widths = (channels, 64, 64, 128, 256, 512)
        layers: list[nn.Module] = []
        for i in range(5):  # encoder; BN after the 3rd and 4th conv
            layers.append(nn.Conv2d(widths[i], widths[i + 1], 2, stride=1, padding=1))
            layers += [nn.BatchNorm2d(widths[i + 1])] if i in (2, 3) else []
            layers.append(nn.ReLU(inplace=True))
        back = widths[::-1]
        for i in range(5):  # decoder; BN after the 1st and 2nd transposed conv, no ReLU at the end
            layers.append(nn.ConvTranspose2d(back[i], back[i + 1], 2, stride=1, padding=1))
            layers += [nn.BatchNorm2d(back[i + 1])] if i in (0, 1) else []
            layers += [nn.ReLU(inplace=True)] if i < 4 else []
        self.body = nn.Sequential(*layers)
        self._initialise(init)

    def _initialise(self, init: str) -> None:
        for module in self.body:
            if not isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
                continue
            if init.startswith("xavier"):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
            elif init == "zeros":
                nn.init.zeros_(module.weight)
                nn.init.zeros_(module.bias)
            if init.endswith("-positive"):
                with torch.no_grad():
                    module.weight.clamp_(min=0)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | None = None) -> torch.Tensor:
        return self.body(x)
