"""Pixel2Pixel's levers on validation images (never the test images): one JSON line per run.

The noisy image is ``benchmark_noise(clean, 25, seed=1)``; PSNR is on the 8-bit output.

    python benchmarks/p2p_levers.py ../shared/data/color_train/100075.jpg --iterations 1000 2500
    python benchmarks/p2p_levers.py ../shared/data/misc/snail.jpg --iterations 1000 --window 41
"""

from __future__ import annotations

import argparse
import json
import time

import torch

import denoisekit as dk
from denoisekit.noise import quantize_to_bits
from denoisekit.zeroshot.pixel2pixel import pixel2pixel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", help="a clean validation image")
    parser.add_argument("--iterations", type=int, nargs="+", default=[1000], help="one run per budget")
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--bank", type=int, default=4)
    parser.add_argument("--window", type=int, default=31)
    parser.add_argument("--patch", type=int, default=7)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clean = dk.read_image(args.image)[0]
    noisy = dk.benchmark_noise(clean, 25, seed=1)
    settings = {k: getattr(args, k) for k in ("crop", "bank", "window", "patch", "width")}
    for iterations in args.iterations:
        start = time.perf_counter()
        out = pixel2pixel(noisy, iterations=iterations, **settings)
        seconds = time.perf_counter() - start
        record = {"image": args.image.rsplit("/", 1)[-1], "iterations": iterations, **settings}
        record |= {"psnr": round(dk.psnr(clean, quantize_to_bits(out, 8)), 2), "seconds": round(seconds, 1)}
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
