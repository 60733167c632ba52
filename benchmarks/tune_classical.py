"""Tune the classical methods' sigma-dependent defaults on VALIDATION images (never the test sets).

Validation: the first 16 Train400 images (gray, 180×180) and 180×180 centre crops of the first
8 colour training images. Noise follows the benchmark protocol. For each method and sigma the
script prints the grid value with the best mean PSNR over both sets; the tables in
``denoisekit/classical.py`` are copied from its output.

    python benchmarks/tune_classical.py --data ../shared/data > runs/tune_classical.md
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from denoisekit.metrics import psnr
from denoisekit.noise import benchmark_noise
from denoisekit.registry import get_method

GRIDS = {
    "mean": ("size", [3, 5, 7, 9]),
    "median": ("size", [3, 5, 7]),
    "gaussian": ("width", [0.3, 0.4, 0.5, 0.65, 0.8, 1.0, 1.2, 1.4, 1.7, 2.0]),
    "nlm": ("h", [0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2]),
    "tv": ("weight", [0.3, 0.4, 0.5, 0.6, 0.75, 0.9, 1.0, 1.25, 1.5]),
    "wavelet": ("wavelet", ["db1", "db2", "db4", "sym4", "coif1"]),
}


def read(path: Path) -> np.ndarray:
    image = np.asarray(Image.open(path), dtype=np.float32) / 255.0
    return image[:, :, None] if image.ndim == 2 else image


def validation_images(data: Path) -> list[np.ndarray]:
    gray = [read(p) for p in sorted((data / "train400").glob("*.png"))[:16]]
    color = []
    for path in sorted((data / "color_train").glob("*.jpg"))[:8]:
        image = read(path)
        top, left = (image.shape[0] - 180) // 2, (image.shape[1] - 180) // 2
        color.append(image[top : top + 180, left : left + 180])
    return gray + color


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--sigmas", type=float, nargs="+", default=[5, 15, 25, 50])
    parser.add_argument("--methods", nargs="+", default=list(GRIDS))
    args = parser.parse_args()

    images = validation_images(args.data)
    print("| method | parameter | sigma | best | PSNR at best | grid PSNRs |\n|---|---|---|---|---|---|")
    for method in args.methods:
        name, grid = GRIDS[method]
        spec = get_method(method)
        for sigma in args.sigmas:
            noisy = [benchmark_noise(clean, sigma, seed=i) for i, clean in enumerate(images)]
            scores = []
            for value in grid:
                outputs = [spec.function(n, sigma, **{name: value}) for n in noisy]
                scores.append(np.mean([psnr(c, np.clip(o, 0, 1)) for c, o in zip(images, outputs, strict=False)]))
            best = int(np.argmax(scores))
            row = " ".join(f"{v}:{s:.2f}" for v, s in zip(grid, scores, strict=False))
            print(f"| {method} | {name} | {sigma:g} | {grid[best]} | {scores[best]:.2f} | {row} |", flush=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
