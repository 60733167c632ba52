"""Where the collaborative Wiener step helps and where it does not (validation images only):

``noise``    ``zs-blend`` on non-Gaussian noise (σ estimated, as a user would run it): the blend
             before and after the step, one JSON line per image.
``network``  the shipped default network's output as the step's pilot, on the network's held-out
             images (the last 8 of its training folder), σ = 25 given.

    python benchmarks/wiener_step.py noise poisson ../shared/data/color_train/106025.jpg
    python benchmarks/wiener_step.py network ../shared/data/color_train
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import denoisekit as dk
from denoisekit.noise import quantize_to_bits
from denoisekit.zeroshot.dip import to_image, to_tensor
from denoisekit.zeroshot.history import RunHistory
from denoisekit.zeroshot.wiener import collaborative_wiener

#: The non-Gaussian noises tried, at the levels of `denoisekit.noise`'s defaults or near them.
NOISES = {"poisson": {"peak": 30.0}, "speckle": {"sigma": 25.0}}


def score(clean: np.ndarray, image: np.ndarray) -> float:
    return round(dk.psnr(clean, quantize_to_bits(image, 8)), 2)


def other_noise(model: str, images: list[Path]) -> None:
    for path in images:
        clean = dk.read_image(path)[0]
        noisy = quantize_to_bits(dk.add_noise(clean, model, seed=1, **NOISES[model]), 8)
        history, start = RunHistory(), time.perf_counter()
        out = dk.denoise(noisy, "zs-blend", None, history=history)
        record = {"image": path.name, "noise": model, "noisy": score(clean, noisy)}
        record |= {name: score(clean, history.panels[name]) for name in ("Pixel2Pixel", "ZS-N2N", "Blend")}
        record |= {"wiener": score(clean, out), "seconds": round(time.perf_counter() - start)}
        print(json.dumps(record), flush=True)


def network_pilot(folder: Path) -> None:
    for path in sorted(folder.iterdir())[-8:]:
        clean = dk.read_image(path)[0]
        noisy = dk.benchmark_noise(clean, 25, seed=1)
        out = dk.denoise(noisy, sigma=25)
        refined = to_image(collaborative_wiener(to_tensor(noisy), to_tensor(out), sigma=25 / 255))
        print(json.dumps({"image": path.name, "network": score(clean, out), "wiener": score(clean, refined)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    noise = commands.add_parser("noise", help="zs-blend on non-Gaussian noise")
    noise.add_argument("model", choices=sorted(NOISES))
    noise.add_argument("images", type=Path, nargs="+", help="clean validation images")
    network = commands.add_parser("network", help="the shipped network's output as the pilot")
    network.add_argument("folder", type=Path, help="the training folder; its last 8 images are held out")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.command == "noise":
        other_noise(args.model, args.images)
    else:
        network_pilot(args.folder)


if __name__ == "__main__":
    main()
