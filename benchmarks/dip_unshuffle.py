"""DIP on the 2×2 pixel-unshuffled image against the CPU pyramid at full resolution, at equal
wall time, on validation images only (no test set): 256² centre crops, σ = 25, oracle PSNR logged.

    python benchmarks/dip_unshuffle.py ../shared/data/misc/snail.jpg --seconds 200
    python benchmarks/dip_unshuffle.py ../shared/data/color_train/100075.jpg --seconds 250 \
        --variants 1:8:5 2:16:4 2:32:4 4:64:3

A variant is ``unshuffle:finest:depth`` (width 128, 4 skip channels, as the method's defaults).
Prints, per variant, the iterations run, seconds per iteration, the best PSNR and PSNR at some
iterations. Use one thread and nothing else running for comparable times.
"""

from __future__ import annotations

import argparse
import time

import torch

import denoisekit as dk
from denoisekit import io
from denoisekit.figures import centre_crop
from denoisekit.zeroshot.dip import CODE_CHANNELS, fit
from denoisekit.zeroshot.skipnet import SkipConfig, build_skip_net


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("image")
    parser.add_argument("--seconds", type=float, default=200)
    parser.add_argument("--variants", nargs="+", default=["1:8:5", "2:16:4", "2:32:4"])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clean = centre_crop(io.read_image(args.image)[0], 256)
    noisy = dk.add_noise(clean, sigma=25, seed=7)
    for variant in args.variants:
        unshuffle, finest, depth = map(int, variant.split(":"))
        torch.manual_seed(0)
        net = build_skip_net(SkipConfig.pyramid(finest, 128, depth, unshuffle=unshuffle), CODE_CHANNELS, clean.shape[2])
        start = time.perf_counter()
        _, history = fit(net, noisy, iterations=10**6, reference=clean, seconds=args.seconds)
        seconds = time.perf_counter() - start
        psnr = history.psnr
        marks = {k: round(psnr[k - 1], 2) for k in (250, 500, 1000, 1500, 2000) if k <= len(psnr)}
        print(
            f"{variant}: {len(psnr)} iterations, {seconds / len(psnr):.3f} s/it, "
            f"best {history.best_psnr:.2f} dB at {history.best}, last {psnr[-1]:.2f}, {marks}",
            flush=True,
        )


if __name__ == "__main__":
    main()
