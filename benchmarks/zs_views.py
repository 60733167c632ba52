"""ZS-N2N with one view against the mean over the image's 8 rotations and flips, on validation
images only (no test set): one trained network per image, both outputs from it.

    python benchmarks/zs_views.py        # prints one line per image (about a minute each, one thread)
"""

from __future__ import annotations

import numpy as np
import torch

import denoisekit as dk
from denoisekit import io
from denoisekit.noise import quantize_to_bits
from denoisekit.zeroshot import zsn2n

DATA = "../shared/data"
IMAGES = {
    "snail": f"{DATA}/misc/snail.jpg",
    "bsds-100075": f"{DATA}/color_train/100075.jpg",
    "train400-010": f"{DATA}/train400/test_010.png",
    "train400-050": f"{DATA}/train400/test_050.png",
}


def main() -> None:
    torch.set_num_threads(1)
    outputs: dict[int, torch.Tensor] = {}
    single_view = zsn2n.denoise_with

    def both(net: torch.nn.Module, image: torch.Tensor, views: int) -> torch.Tensor:
        outputs.update({n: single_view(net, image, n) for n in (1, 8)})
        return outputs[views]

    zsn2n.denoise_with = both  # the same trained net gives both outputs
    for name, path in IMAGES.items():
        clean = io.read_image(path)[0]
        noisy = dk.add_noise(clean, sigma=25, seed=7)
        zsn2n.zs_n2n(noisy, iterations=1000, crop=128, seed=0)
        scores = {}
        for views, out in outputs.items():
            image = out.clamp(0, 1)[0].permute(1, 2, 0).numpy().astype(np.float32)
            scores[views] = dk.psnr(clean, quantize_to_bits(image, 8))
        print(f"{name}: 1 view {scores[1]:.2f} dB, 8 views {scores[8]:.2f} dB", flush=True)


if __name__ == "__main__":
    main()
