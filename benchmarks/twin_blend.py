"""zs-blend's per-pixel weight from the twin count, scored on saved members of validation images
(never test images): one JSON line per image, then the mean of each rule over the images.

The members come from ``blend_members.py IMAGE --seeds 0 --save DIR`` (Pixel2Pixel seed 0 and
ZS-N2N at their defaults on ``benchmark_noise(clean, 25, seed=1)``). The twin counts are
recomputed from the same noisy image, σ estimated, as ``zs-blend`` does. Rule ``twinsM_rR``:
Pixel2Pixel's share is ``M × (twins − 2) / (bank − 2)``, box-averaged over ``(2R + 1)²``
pixels (:func:`~denoisekit.zeroshot.methods.twin_weights`). ``wiener`` is ``zs-blend``'s output:
the default rule's blend refined by the collaborative Wiener step (:mod:`denoisekit.zeroshot.wiener`);
``p2p_wiener`` and ``zs_wiener`` are the members refined alone (``pixel2pixel`` and ``zs-n2n``'s
outputs); ``--bm3d`` adds the classical reference on the same noisy image.

    python benchmarks/twin_blend.py DIR ../shared/data/color_train/106025.jpg ../shared/data/misc/snail.jpg
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import denoisekit as dk
from denoisekit.estimate import estimate_sigma
from denoisekit.noise import quantize_to_bits
from denoisekit.zeroshot.dip import to_image, to_tensor
from denoisekit.zeroshot.methods import P2P_BANK, P2P_SIMILARITY, P2P_WINDOW, twin_weights
from denoisekit.zeroshot.pixel2pixel import twin_bank
from denoisekit.zeroshot.wiener import collaborative_wiener


def blend_scores(
    clean: np.ndarray,
    noisy: np.ndarray,
    p2p: torch.Tensor,
    zs: torch.Tensor,
    twins: torch.Tensor,
    args: argparse.Namespace,
) -> dict:
    """PSNR of the members, the global weight 0.8, each twin rule and the Wiener step."""

    def blend(share: torch.Tensor | float) -> torch.Tensor:
        share = share[0, 0, ..., None] if isinstance(share, torch.Tensor) else share
        return share * p2p + (1 - share) * zs

    def score(share: torch.Tensor | float) -> float:
        return measure(blend(share).numpy())

    def measure(image: np.ndarray) -> float:
        return round(dk.psnr(clean, quantize_to_bits(np.clip(image, 0, 1), 8)), 2)

    scores = {"p2p": score(1.0), "zs": score(0.0), "global0.8": score(0.8)}
    for maximum in args.maxima:
        for radius in args.radii:
            share = twin_weights(twins, P2P_BANK, maximum=maximum, radius=radius)
            scores[f"twins{maximum}_r{radius}"] = score(share)
    sigma = estimate_sigma(noisy) / 255
    pilots = {"wiener": blend(twin_weights(twins, P2P_BANK)), "p2p_wiener": p2p, "zs_wiener": zs}
    for name, pilot in pilots.items():
        start = time.perf_counter()
        refined = collaborative_wiener(
            to_tensor(noisy, "cpu"), to_tensor(pilot.clamp(0, 1).numpy(), "cpu"), sigma=sigma
        )
        scores[f"{name}_seconds"] = round(time.perf_counter() - start, 1)
        scores[name] = measure(to_image(refined))
    if args.bm3d:
        scores["bm3d"] = measure(dk.denoise(noisy, "bm3d", estimate_sigma(noisy)))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("members", type=Path, help="the folder blend_members.py --save wrote")
    parser.add_argument("images", nargs="+", help="the clean validation images")
    parser.add_argument("--maxima", type=float, nargs="+", default=[0.8, 0.9, 0.95, 1.0])
    parser.add_argument("--radii", type=int, nargs="+", default=[0, 2, 5, 10])
    parser.add_argument("--window", type=int, default=P2P_WINDOW, help="the members' Pixel2Pixel search window")
    parser.add_argument("--bm3d", action="store_true", help="also score BM3D (the optional bm3d package)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    records = []
    for path in args.images:
        clean = dk.read_image(path)[0]
        noisy = dk.benchmark_noise(clean, 25, seed=1)
        stem = Path(path).stem
        p2p, zs = (torch.from_numpy(np.load(args.members / f"{stem}_{m}.npy")) for m in ("p2p_seed0", "zs"))
        tensor = to_tensor(noisy, "cpu")
        _, twins = twin_bank(tensor, sigma=None, bank=P2P_BANK, similarity=P2P_SIMILARITY, window=args.window, patch=7)
        record = {"image": Path(path).name, "mean_twins": round(twins.float().mean().item(), 2)}
        record |= blend_scores(clean, noisy, p2p, zs, twins, args)
        print(json.dumps(record), flush=True)
        records.append(record)
    rules = [key for key in records[0] if key not in ("image", "mean_twins") and not key.endswith("_seconds")]
    print(json.dumps({"mean": {rule: round(float(np.mean([r[rule] for r in records])), 3) for rule in rules}}))


if __name__ == "__main__":
    main()
