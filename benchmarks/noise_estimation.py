"""Measure the noise estimators on folders of clean PNG images with benchmark-protocol noise.

Each image gets clean 8-bit + N(0, sigma²), clipped and rounded (``benchmark_noise``), with
seed ``--seed`` + its index, and every estimator runs on it. The table gives, per estimator
and sigma, the mean estimate, the mean and largest absolute errors and the mean seconds per
image. The default estimator and its parameters were chosen on validation images only:

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/noise_estimation.py \\
        --data ../shared/data/train400 --limit 40
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image

from denoisekit.estimate import ESTIMATORS, estimate_sigma
from denoisekit.noise import benchmark_noise


def read_png(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        array = np.asarray(image if image.mode in ("L", "RGB") else image.convert("RGB"))
    return array.astype(np.float32) / 255.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, action="append", required=True, help="PNG folder (repeatable)")
    parser.add_argument("--sigmas", type=float, nargs="+", default=[5, 15, 25, 50])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, help="use only the first N images of each folder")
    parser.add_argument("--estimators", nargs="+", default=list(ESTIMATORS), choices=ESTIMATORS)
    args = parser.parse_args()

    paths = [p for folder in args.data for p in sorted(folder.glob("*.png"))[: args.limit]]
    if not paths:
        parser.error("no PNG files found")
    images = [read_png(p) for p in paths]
    print(f"{len(images)} images from {', '.join(str(d) for d in args.data)}, seed {args.seed}\n")
    print("| estimator | sigma | mean estimate | mean abs error | max abs error | seconds/image |")
    print("|---|---|---|---|---|---|")
    for estimator in args.estimators:
        for sigma in args.sigmas:
            estimates, seconds = [], []
            for index, clean in enumerate(images):
                noisy = benchmark_noise(clean, sigma, seed=args.seed + index)
                start = time.perf_counter()
                estimates.append(estimate_sigma(noisy, estimator))
                seconds.append(time.perf_counter() - start)
            errors = np.abs(np.array(estimates) - sigma)
            print(
                f"| {estimator} | {sigma:g} | {np.mean(estimates):.2f} | {errors.mean():.2f} "
                f"| {errors.max():.2f} | {np.mean(seconds):.4f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
