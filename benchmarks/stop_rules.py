"""Issue 6, item 2: choose DIP's no-reference stopping rule on validation images, offline.

Each image gets two oracle-mode DIP fits of ``--iterations`` (the CPU pyramid net, as
``denoisekit denoise -m dip``), and every criterion is recorded per iteration:

* fit ``full`` (every pixel in the loss): PSNR, the windowed output variance (ES-WMV) and the
  discrepancy ``MSE(output, noisy) / σ²``;
* fit ``held`` (``--holdout`` of the pixels kept out of the loss): PSNR and the self-validation
  MSE on the held-out pixels.

The traces go to ``OUT/traces/<name>.npz`` (a rerun skips those that exist); ``--analyse`` then
replays candidate rules on them and prints each rule's gap to the oracle best (dB). A rule that
reads the held-out fit is scored on the held-out fit's PSNR, or, for ``refit``, on the full fit's
PSNR at the iteration it picked (a second fit of that many iterations is what the user would run).

    python benchmarks/stop_rules.py --images ../shared/data/train400/test_0{10,50,90,130}.png \
        --out runs/stop_rules/val                               # validation traces, σ 25
    python benchmarks/stop_rules.py --analyse --out runs/stop_rules/val
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from denoisekit import io
from denoisekit.bench import image_seed
from denoisekit.figures import centre_crop
from denoisekit.noise import benchmark_noise
from denoisekit.zeroshot.dip import CODE_CHANNELS, fit, to_tensor
from denoisekit.zeroshot.methods import CPU_FINEST
from denoisekit.zeroshot.skipnet import SkipConfig, build_skip_net
from denoisekit.zeroshot.stopping import Discrepancy, SelfValidation, StoppingRule, WindowedVariance, holdout_mask


class Recorder(StoppingRule):
    """Never stops; records several rules' criteria per iteration."""

    name = "recorder"

    def __init__(self, rules: dict[str, StoppingRule]) -> None:
        super().__init__(patience=None)
        self.rules = rules
        self.loss_mask = next((r.loss_mask for r in rules.values() if r.loss_mask is not None), None)
        self.traces: dict[str, list[float]] = {name: [] for name in rules}

    def value(self, step: int, raw: torch.Tensor, smoothed: torch.Tensor | None) -> float:
        for name, rule in self.rules.items():
            self.traces[name].append(rule.value(step, raw, smoothed))
        return math.nan


def record(path: Path, args: argparse.Namespace) -> None:
    """Both fits of one image; writes its traces."""
    target = args.out / "traces" / f"{path.parent.name}_{path.stem}_s{args.sigma:g}.npz"
    if target.exists():
        return
    clean = np.ascontiguousarray(centre_crop(io.read_image(path)[0], args.size))
    noisy = benchmark_noise(clean, args.sigma, image_seed(path.parent.name, path.name, args.sigma, 0))
    config = SkipConfig.pyramid(CPU_FINEST, 128, 5, skip=4, upsample="bilinear")
    noisy_t = to_tensor(noisy)
    held = holdout_mask(*noisy.shape[:2], args.holdout, seed=0)
    traces = {}
    for fit_name, rules in (
        ("full", {"variance": WindowedVariance(window=50), "discrepancy": Discrepancy(noisy_t, args.sigma)}),
        ("held", {"selfval": SelfValidation(noisy_t, held)}),  # its loss_mask keeps the held-out pixels out
    ):
        recorder = Recorder(rules)
        torch.manual_seed(0)  # the same initialisation and code for both fits, as dip's seed 0
        net = build_skip_net(config, CODE_CHANNELS, noisy.shape[2])
        _, history = fit(net, noisy, iterations=args.iterations, rule=recorder, reference=clean)
        traces[f"{fit_name}_psnr"] = np.array(history.psnr)
        traces |= {f"{fit_name}_{name}": np.array(values) for name, values in recorder.traces.items()}
        best = int(np.argmax(history.psnr))
        print(f"{target.stem} {fit_name}: best {history.psnr[best]:.2f} dB at {best + 1}", flush=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    np.savez(target, sigma=args.sigma, **traces)


class Minimum(StoppingRule):
    """Self-validation's pick (the minimum, with patience), for :func:`replay`."""

    def value(self, step: int, raw: torch.Tensor, smoothed: torch.Tensor | None) -> float:
        return math.nan  # replay sets the recorded values


def replay(rule: StoppingRule, values: np.ndarray, counted: np.ndarray | None = None) -> int:
    """The 0-based iteration ``rule`` picks from recorded criterion values, through its own
    ``update`` and ``should_stop``; iterations where ``counted`` is False are skipped."""
    for step, value in enumerate(values, start=1):
        if math.isnan(value) or (counted is not None and not counted[step - 1]):
            continue
        rule.value = lambda *_, recorded=float(value): recorded
        rule.update(step, None, None)
        if rule.should_stop(step):
            break
    return len(values) - 1 if rule.best_step is None else rule.best_step - 1


def candidate_rules() -> dict[str, Callable[[dict], tuple[str, int]]]:
    """Each candidate maps an image's traces to (the fit it returns, the 0-based iteration)."""

    def variance(gate: Callable[[dict], np.ndarray]) -> Callable[[dict], tuple[str, int]]:
        return lambda t: ("full", replay(WindowedVariance(patience=300, tolerance=0.05), t["full_variance"], gate(t)))

    def self_validation(fit: str, patience: int) -> Callable[[dict], tuple[str, int]]:
        return lambda t: (fit, replay(Minimum(patience), t["held_selfval"]))

    rules = {"variance (the old default)": variance(lambda t: np.ones(len(t["full_variance"]), bool))}
    for factor in (1.5, 2.0, 3.0):
        rules[f"variance, once discrepancy ≤ {factor}"] = variance(lambda t, f=factor: t["full_discrepancy"] <= f)
    for start in (300, 500):
        rules[f"variance from iteration {start}"] = variance(lambda t, s=start: np.arange(len(t["full_variance"])) >= s)
    for patience in (200, 300, 500):
        rules[f"self-validation, patience {patience}"] = self_validation("held", patience)
        rules[f"self-validation + refit, patience {patience}"] = self_validation("full", patience)
    return rules


def analyse(out: Path) -> None:
    """Replay the candidate rules on every trace; print each rule's gaps as a Markdown table."""
    traces = {f.stem: dict(np.load(f)) for f in sorted((out / "traces").glob("*.npz"))}
    names = list(traces)
    print("| rule | " + " | ".join(names) + " | median | mean | max |")
    print("|---|" + "---|" * (len(names) + 3))
    for kind in ("full", "held"):
        bests = " | ".join(f"{traces[n][f'{kind}_psnr'].max():.2f}" for n in names)
        print(f"| oracle best, {kind} fit (dB) | {bests} | | | |")
    for label, rule in candidate_rules().items():
        gaps = []
        for name in names:
            kind, index = rule(traces[name])
            gaps.append(traces[name]["full_psnr"].max() - traces[name][f"{kind}_psnr"][index])
        cells = " | ".join(f"{g:.2f}" for g in gaps)
        print(f"| {label} | {cells} | {np.median(gaps):.2f} | {np.mean(gaps):.2f} | {np.max(gaps):.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", nargs="*", type=Path, default=[])
    parser.add_argument("--sigma", type=float, default=25.0)
    parser.add_argument("--size", type=int, default=128, help="centre-crop side")
    parser.add_argument("--iterations", type=int, default=3000)
    parser.add_argument("--holdout", type=float, default=0.1, help="fraction of pixels held out of the loss")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--analyse", action="store_true", help="replay the rules on the traces in OUT")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.analyse:
        analyse(args.out)
        return
    for path in args.images:
        record(path, args)


if __name__ == "__main__":
    main()
