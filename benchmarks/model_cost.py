"""Parameters, FLOPs per pixel and CPU seconds per megapixel of every registered model, and of
the shipped weights whose configuration is not their model's default.

    python benchmarks/model_cost.py --threads 2 --size 512 > benchmarks/results/model_cost.md

FLOPs are counted by PyTorch's FlopCounterMode (2 per multiply-add) on a 64×64 input and
divided by its pixels; seconds are the median of ``--repeats`` timed inference runs after one
warm-up, on a ``--size``² image.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from denoisekit.models import create_model, list_models
from denoisekit.models.weights import SHIPPED, load_weights
from denoisekit.training.trainer import hardware


def flops_per_pixel(model: torch.nn.Module, channels: int) -> float:
    x = torch.rand(1, channels, 64, 64)
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model(x, torch.tensor([25.0]))
    return counter.get_total_flops() / (64 * 64)


def seconds_per_megapixel(model: torch.nn.Module, channels: int, size: int, repeats: int) -> float:
    x = torch.rand(1, channels, size, size)
    times = []
    with torch.inference_mode():
        model(x, torch.tensor([25.0]))
        for _ in range(repeats):
            start = time.perf_counter()
            model(x, torch.tensor([25.0]))
            times.append(time.perf_counter() - start)
    return statistics.median(times) / (size * size / 1e6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--channels", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{hardware()}; {args.size}×{args.size}, {args.channels} channel(s), median of {args.repeats}\n")
    print("| model | parameters | GFLOPs / megapixel | CPU s / megapixel |")
    print("| --- | ---: | ---: | ---: |")
    models = [(name, create_model(name, channels=args.channels).eval()) for name in list_models()]
    for path in sorted(SHIPPED.glob("*.pt")):
        shipped = load_weights(path)
        if shipped.config.get("channels", 1) == args.channels and shipped.config != {"channels": args.channels}:
            models.append((f"{shipped.name} {shipped.config} (shipped {path.stem})", shipped.model))
    for name, model in models:
        params = sum(p.numel() for p in model.parameters())
        flops = flops_per_pixel(model, args.channels)
        seconds = seconds_per_megapixel(model, args.channels, args.size, args.repeats)
        print(f"| {name} | {params:,} | {flops * 1e6 / 1e9:.0f} | {seconds:.2f} |", flush=True)


if __name__ == "__main__":
    main()
