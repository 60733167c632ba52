"""Pixel2Pixel's, ZS-N2N's and the zero-shot blend's levers on validation images (never the test images):
one JSON line per run.

The noisy image is ``benchmark_noise(clean, 25, seed=1)``; σ is estimated from it, as a user's
run would; PSNR is on the 8-bit output.

    python benchmarks/p2p_levers.py ../shared/data/color_train/100075.jpg --iterations 1000 2500
    python benchmarks/p2p_levers.py ../shared/data/misc/snail.jpg --iterations 1000 --window 41
    python benchmarks/p2p_levers.py ../shared/data/misc/snail.jpg --method zs-blend --iterations 1000
"""

from __future__ import annotations

import argparse
import json
import time

import torch

import denoisekit as dk
from denoisekit.noise import quantize_to_bits
from denoisekit.precision import PRECISIONS
from denoisekit.zeroshot.methods import REFINEMENTS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", help="a clean validation image")
    parser.add_argument("--method", choices=("pixel2pixel", "zs-n2n", "zs-blend"), default="pixel2pixel")
    parser.add_argument("--iterations", type=int, nargs="+", default=[1000], help="one run per budget")
    parser.add_argument("--crop", type=int, help="default: the method's (on a CPU, 64 for Pixel2Pixel, 128 for ZS-N2N)")
    parser.add_argument("--bank", type=int, default=8, help="pixel2pixel only")
    parser.add_argument("--similarity", type=float, default=1.0, help="pixel2pixel only; 0: the whole bank")
    parser.add_argument("--window", type=int, default=31, help="pixel2pixel only")
    parser.add_argument("--patch", type=int, default=7, help="pixel2pixel only")
    parser.add_argument("--width", type=int, default=64, help="pixel2pixel only")
    parser.add_argument("--zs-iterations", type=int, default=1000, help="zs-blend only")
    parser.add_argument("--weight", type=float, help="zs-blend only: Pixel2Pixel's share (default: per pixel)")
    parser.add_argument(
        "--refine", choices=REFINEMENTS, default="none", help="the last step (records before session 13: none)"
    )
    parser.add_argument("--precision", choices=PRECISIONS, default="auto")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clean = dk.read_image(args.image)[0]
    noisy = dk.benchmark_noise(clean, 25, seed=1)
    if args.method == "pixel2pixel":
        settings = {k: getattr(args, k) for k in ("crop", "bank", "similarity", "window", "patch", "width")}
    elif args.method == "zs-n2n":
        settings = {"crop": args.crop}
    else:
        settings = {"crop": args.crop, "zs_iterations": args.zs_iterations, "weight": args.weight}
    settings |= {"refine": args.refine, "precision": args.precision}
    for iterations in args.iterations:
        start = time.perf_counter()
        out = dk.denoise(noisy, args.method, iterations=iterations, **settings)
        seconds = time.perf_counter() - start
        record = {"image": args.image.rsplit("/", 1)[-1], "method": args.method, "iterations": iterations, **settings}
        record |= {"psnr": round(dk.psnr(clean, quantize_to_bits(out, 8)), 2), "seconds": round(seconds, 1)}
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
