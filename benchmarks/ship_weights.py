"""Copy a training run's best weights into the package (float16) with its model card.

    python benchmarks/ship_weights.py runs/unet-gray/unet-gray.pt unet-gray \
        --results runs/learned/results.json --method unet

writes ``denoisekit/weights/unet-gray.pt`` and ``unet-gray.md`` (the card: command, data,
steps, wall time, hardware, validation and benchmark PSNR/SSIM).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from denoisekit.models.weights import SHIPPED, load_weights, save_weights


def results_table(path: Path, method: str, channels: int) -> str:
    records = json.loads(path.read_text())
    records = records["records"] if isinstance(records, dict) else records
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        if r["method"] in (method, "bm3d") and r["channels"] == channels:
            groups[(r["dataset"], r["sigma"], r["method"])].append(r)
    lines = ["| dataset | σ | method | images | PSNR | SSIM | s / image |"]
    lines.append("| --- | ---: | --- | ---: | ---: | ---: | ---: |")
    for (dataset, sigma, name), rows in sorted(groups.items()):
        mean = {k: sum(r[k] for r in rows) / len(rows) for k in ("psnr", "ssim", "seconds")}
        lines.append(
            f"| {dataset} | {sigma:g} | {name} | {len(rows)} | {mean['psnr']:.2f} | {mean['ssim']:.4f} "
            f"| {mean['seconds']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", type=Path)
    parser.add_argument("name")
    parser.add_argument("--results", type=Path, help="a bench results.json to quote in the card")
    parser.add_argument("--method", default="unet")
    parser.add_argument("--note", default="", help="a sentence for the card (how to continue, caveats)")
    args = parser.parse_args()
    loaded = load_weights(args.weights)
    card = dict(loaded.card)
    target = save_weights(SHIPPED / f"{args.name}.pt", loaded.model, card, half=True)
    channels = loaded.config.get("channels", 1)
    text = [
        f"# {args.name}",
        "",
        f"Model `{loaded.name}` {loaded.config}, {card.get('parameters', 0):,} parameters, weights stored as float16.",
        "",
        *(f"- Command: `{command}`" for command in card.get("commands", [card.get("command")])),
        f"- Data: `{card.get('data')}` ({card.get('training_images')} training images; validation: "
        f"{card.get('validation')}); noise {card.get('noise')}",
        f"- Steps: {card.get('steps')} of batch {card['train']['batch_size']}×{card['train']['patch_size']}², "
        f"{card['train']['optimizer']} lr {card['train']['lr']} {card['train']['schedule']}",
        f"- Wall time: {card.get('seconds', 0) / 3600:.2f} h on {card.get('hardware')} (a shared, loaded machine)",
        f"- Best validation PSNR: {card.get('best_val_psnr'):.2f} dB at step {card.get('best_step')}",
    ]
    if args.note:
        text += ["", args.note]
    if args.results:
        text += [
            "",
            "## Benchmark (clipped 8-bit protocol, non-blind σ given)",
            "",
            f"From `{args.results}`:",
            "",
            results_table(args.results, args.method, channels),
        ]
    target.with_suffix(".md").write_text("\n".join(text) + "\n")
    print(f"{target} ({target.stat().st_size / 1e6:.1f} MB) and {target.with_suffix('.md')}")


if __name__ == "__main__":
    main()
