"""Write a noisy copy of a folder of images: what a user with only noisy photographs has.

Each image gets Gaussian noise of ``--sigma`` (0–255 scale) from a generator seeded by
``(--seed, image index)``, and is stored as an 8-bit PNG (clipped and rounded, like a camera
file). Existing outputs are kept, so a rerun is cheap and draws the same noise.

    python benchmarks/noisy_copy.py ../shared/data/train400 runs/selfsup/noisy_a --sigma 25 --seed 1
"""

from __future__ import annotations

import argparse
from pathlib import Path

from denoisekit import add_noise, read_image, write_image
from denoisekit.api import expand_inputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("target")
    parser.add_argument("--sigma", type=float, default=25.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    target = Path(args.target)
    target.mkdir(parents=True, exist_ok=True)
    for index, path in enumerate(expand_inputs([args.source])):
        out = target / (path.stem + ".png")
        if out.exists():
            continue
        image, _ = read_image(path)
        write_image(out, add_noise(image, sigma=args.sigma, seed=args.seed * 100_000 + index), bit_depth=8)


if __name__ == "__main__":
    main()
