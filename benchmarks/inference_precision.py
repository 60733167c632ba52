"""The shipped default network in float32 and in bfloat16, on its held-out validation images (the
last 8 of its training folder, never a test set): PSNR and seconds per image, one JSON line each,
then the means.

The noisy image is ``benchmark_noise(clean, 25, seed=1)``; PSNR is on the 8-bit output; the
seconds are the median of 3 calls after a warm-up.

    python benchmarks/inference_precision.py ../shared/data/color_train --threads 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

import denoisekit as dk
from denoisekit.noise import quantize_to_bits


def timed(noisy: np.ndarray, precision: str) -> tuple[np.ndarray, float]:
    """The default method's output and its median seconds over 3 calls, after a warm-up."""
    dk.denoise(noisy, sigma=25, precision=precision)
    seconds = []
    for _ in range(3):
        start = time.perf_counter()
        out = dk.denoise(noisy, sigma=25, precision=precision)
        seconds.append(time.perf_counter() - start)
    return out, statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the training folder; its last 8 images are held out")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    records = []
    for path in sorted(args.folder.iterdir())[-8:]:
        clean = dk.read_image(path)[0]
        noisy = dk.benchmark_noise(clean, 25, seed=1)
        record = {"image": path.name, "shape": list(clean.shape)}
        for precision in ("float32", "bfloat16"):
            out, seconds = timed(noisy, precision)
            record[precision] = {
                "psnr": round(dk.psnr(clean, quantize_to_bits(out, 8)), 3),
                "seconds": round(seconds, 3),
            }
        print(json.dumps(record), flush=True)
        records.append(record)
    means = {
        p: {k: round(float(np.mean([r[p][k] for r in records])), 3) for k in ("psnr", "seconds")}
        for p in ("float32", "bfloat16")
    }
    print(json.dumps({"mean": means, "threads": args.threads}))


if __name__ == "__main__":
    main()
