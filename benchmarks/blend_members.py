"""The zero-shot blend's members on one validation image (never a test image): Pixel2Pixel with
several seeds and ZS-N2N, each trained once, then their averages and blends; one JSON line.

The noisy image is ``benchmark_noise(clean, 25, seed=1)``; σ is estimated from it; PSNR is on the
8-bit output.

    python benchmarks/blend_members.py ../shared/data/color_train/100075.jpg --seeds 0 1 2 3
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
from denoisekit.precision import PRECISIONS
from denoisekit.zeroshot.methods import P2P_CPU_CROP, P2P_ITERATIONS, P2P_WINDOW, ZS_CPU_CROP, ZS_ITERATIONS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", help="a clean validation image")
    parser.add_argument("--iterations", type=int, default=P2P_ITERATIONS, help="Pixel2Pixel's steps")
    parser.add_argument("--crop", type=int, default=P2P_CPU_CROP, help=f"Pixel2Pixel's crop (ZS-N2N: {ZS_CPU_CROP})")
    parser.add_argument("--width", type=int, default=64, help="Pixel2Pixel's hidden channels")
    parser.add_argument("--window", type=int, default=P2P_WINDOW, help="Pixel2Pixel's search window side")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="Pixel2Pixel's seeds")
    parser.add_argument("--weights", type=float, nargs="+", default=[0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 1.0])
    parser.add_argument("--precision", choices=PRECISIONS, default="bfloat16")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--save", type=Path, help="folder to keep the members' outputs in, as IMAGE_MEMBER.npy")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clean = dk.read_image(args.image)[0]
    noisy = dk.benchmark_noise(clean, 25, seed=1)
    p2p = {"crop": args.crop, "iterations": args.iterations, "width": args.width, "window": args.window}
    # The networks' own outputs: the members zs-blend blends, before any Wiener step.
    members = {f"p2p_seed{seed}": ("pixel2pixel", {**p2p, "seed": seed, "refine": "none"}) for seed in args.seeds}
    members["zs"] = ("zs-n2n", {"crop": ZS_CPU_CROP, "iterations": ZS_ITERATIONS, "refine": "none"})
    outputs, seconds = {}, {}
    for name, (method, params) in members.items():
        start = time.perf_counter()
        outputs[name] = dk.denoise(noisy, method, precision=args.precision, **params)
        seconds[name] = round(time.perf_counter() - start, 1)
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            np.save(args.save / f"{Path(args.image).stem}_{name}.npy", outputs[name])

    def score(image: np.ndarray) -> float:
        return round(dk.psnr(clean, quantize_to_bits(image, 8)), 2)

    record = {"image": Path(args.image).name, "iterations": args.iterations, "crop": args.crop, "width": args.width}
    record["window"] = args.window
    record["seconds"] = seconds
    record |= {name: score(out) for name, out in outputs.items()}
    for count in range(1, len(args.seeds) + 1):  # the first `count` seeds averaged, alone and blended
        average = np.mean([outputs[f"p2p_seed{seed}"] for seed in args.seeds[:count]], axis=0)
        for weight in args.weights:
            record[f"seeds{count}_weight{weight}"] = score(weight * average + (1 - weight) * outputs["zs"])
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
