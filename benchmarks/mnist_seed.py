"""The seed report's MNIST experiments, reproducible.

(a) ``models``: CNN, CAE, DnCNN and Win5-RB trained on noisy→clean MNIST digits, and Win5-RB
    trained Noise2Noise-style (noisy→noisy); prints and writes the test MSE table.
(b) ``optimizers`` / ``inits``: the Noise2Noise autoencoder trained with SGD, momentum 0.9,
    Nesterov, Adam, L-BFGS and the hybrid, and with five initialisations; loss curves as PNGs.

Only MNIST's test split is available (10,000 digits): the first 8,000 train, the last 2,000
test. The seed report does not state its noise level; we use the Keras tutorial's
``noise_factor = 0.5`` (Gaussian σ = 0.5 of the range). Training and test inputs keep float
noise (the tutorial clips both to [0, 1]): one protocol for both, since a residual net trained on
float noise and tested on clipped inputs is measured on noise it never saw.

    python benchmarks/mnist_seed.py models --epochs 10 --out benchmarks/results/mnist
    python benchmarks/mnist_seed.py optimizers --steps 150 --out benchmarks/results/mnist
    python benchmarks/mnist_seed.py inits --steps 150 --out benchmarks/results/mnist
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from denoisekit.errors import InputError
from denoisekit.models import create_model
from denoisekit.models.weights import Weights, load_weights
from denoisekit.training.data import ImageSet, PatchSampler, load_mnist
from denoisekit.training.noise2noise import Noise2Noise
from denoisekit.training.objectives import NoiseSpec, Supervised
from denoisekit.training.trainer import TrainConfig, hardware, train

MNIST = Path(__file__).resolve().parents[2] / "shared/data/mnist/t10k-images-idx3-ubyte.gz"
NOISE = NoiseSpec(sigma=(127.5, 127.5), unclipped=1.0)  # noise_factor 0.5; float noise in training
SEED_MSE = {"cnn": 0.01171, "cae": 0.00991, "dncnn": 0.00943, "win5rb": 0.00873, "win5rb-n2n": 0.0425}


def split() -> tuple[ImageSet, ImageSet]:
    digits = load_mnist(MNIST)
    train_set = ImageSet(digits.images[:8000], digits.names[:8000], 255.0)
    test_set = ImageSet(digits.images[8000:], digits.names[8000:], 255.0)
    return train_set, test_set


def test_mse(model: torch.nn.Module, test_set: ImageSet, batch: int = 250) -> float:
    clean = np.stack([im.transpose(2, 0, 1) for im in test_set.images]).astype(np.float32) / 255
    noisy = NOISE.apply(clean, np.random.default_rng(2024))[0]
    model.eval()
    errors = []
    with torch.inference_mode():
        for i in range(0, len(clean), batch):
            x = torch.from_numpy(noisy[i : i + batch])
            out = model(x, torch.full((len(x),), 127.5)).clamp(0, 1).numpy()
            errors.append(((out - clean[i : i + batch]) ** 2).mean(axis=(1, 2, 3)))
    return float(np.concatenate(errors).mean())


def run_models(args: argparse.Namespace) -> None:
    train_set, test_set = split()
    steps = args.epochs * len(train_set.images) // args.batch_size
    rows = []
    for name in args.models:
        arch = name.removesuffix("-n2n")
        loss = "bce" if arch == "cae" else "mse"  # the Keras tutorial's loss for its sigmoid output
        objective = Noise2Noise(NOISE, loss) if name.endswith("-n2n") else Supervised(NOISE, loss)
        torch.manual_seed(0)
        model = create_model(arch, channels=1)
        config = TrainConfig(
            steps=steps,
            batch_size=args.batch_size,
            patch_size=28,
            lr=1e-3,
            schedule="constant",
            val_every=10**9,
            checkpoint_every=max(1, steps // 10),
        )
        out = args.checkpoints / f"{name}.pt"
        out.parent.mkdir(parents=True, exist_ok=True)
        weights = None if args.restart else finished(out, arch, steps)
        if weights is not None:  # completed weights: evaluate, don't retrain
            model, seconds, trained_on = weights.model, weights.card["seconds"], weights.card["hardware"]
        else:
            model, seconds = train_one(args, model, train_set, objective, config, out)
            trained_on = hardware()
        mse = test_mse(model, test_set)
        rows.append(
            {
                "model": name,
                "loss": loss,
                "test_mse": round(mse, 5),
                "seed_mse": SEED_MSE.get(name),
                "epochs": args.epochs,
                "steps": steps,
                "training_minutes": round(seconds / 60, 1),  # over resumes too
                "hardware": trained_on,
            }
        )
        print(rows[-1], flush=True)
        save_rows(args.out, rows[-1])


def finished(path: Path, arch: str, steps: int) -> Weights | None:
    """The weights at ``path`` if they hold a completed run whose checkpoint was deleted to keep
    the repository small; None if there is a run to start or resume."""
    if not path.exists() or path.with_suffix(".ckpt").exists():
        return None
    weights = load_weights(path, expect_model=arch)
    return weights if weights.card["steps"] == steps else None


def train_one(
    args: argparse.Namespace,
    model: torch.nn.Module,
    train_set: ImageSet,
    objective: Supervised | Noise2Noise,
    config: TrainConfig,
    out: Path,
) -> tuple[torch.nn.Module, float]:
    """Train (or resume) one model of the table; the trained model and its training seconds."""
    result = train(
        model,
        PatchSampler([train_set], 28, args.batch_size, augment=False),
        objective,
        config,
        out,
        resume=out.with_suffix(".ckpt").exists() and not args.restart,
        overwrite=args.restart,
    )
    if result.interrupted:  # Ctrl-C / SIGTERM: stop the whole run, rerun to resume
        raise SystemExit(f"stopped during {out.stem}; its checkpoint is saved, rerun to resume")
    return model, result.seconds


def save_rows(out: Path, row: dict) -> None:
    """Merge one model's row into the table, so models can be trained in separate runs."""
    path = out / "models.json"
    rows = {r["model"]: r for r in json.loads(path.read_text())["rows"]} if path.exists() else {}
    rows[row["model"]] = row
    ordered = [rows[name] for name in SEED_MSE if name in rows]
    path.write_text(json.dumps({"rows": ordered}, indent=2))
    with open(out / "models.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(dict.fromkeys(k for r in ordered for k in r)))
        writer.writeheader()
        writer.writerows(ordered)


def run_curves(args: argparse.Namespace, variants: list[tuple[str, dict, dict]], title: str) -> None:
    train_set, _ = split()
    curves = {}
    for label, model_config, loop in variants:
        torch.manual_seed(0)
        model = create_model("n2n-autoencoder", channels=1, **model_config)
        config = TrainConfig(
            steps=args.steps,
            batch_size=args.batch_size,
            patch_size=28,
            schedule="constant",
            val_every=10**9,
            checkpoint_every=10**9,
            log_every=1,
            **loop,
        )
        out = Path("runs/mnist_curves") / f"{args.command}-{label}.pt"  # weights stay out of the repository
        out.parent.mkdir(parents=True, exist_ok=True)
        sampler = PatchSampler([train_set], 28, args.batch_size, augment=False)
        try:
            train(model, sampler, Supervised(NOISE), config, out, overwrite=True)
        except InputError as error:  # a diverging optimizer is a result, not a crash
            print(label, error, flush=True)
        with open(out.with_suffix(".csv")) as file:
            curves[label] = [float(row["loss"]) for row in csv.DictReader(file)]
        if curves[label]:
            print(label, f"first {curves[label][0]:.4f}  last {curves[label][-1]:.4f}", flush=True)
    figure, axis = plt.subplots(figsize=(6, 4), dpi=100)
    for label, losses in curves.items():
        axis.plot(range(1, len(losses) + 1), losses, label=label)
    axis.set(xlabel="step", ylabel="training MSE", yscale="log", title=title)
    axis.legend()
    figure.tight_layout()
    figure.savefig(args.out / f"{args.command}.png")
    plt.close(figure)
    (args.out / f"{args.command}.json").write_text(json.dumps({"hardware": hardware(), "curves": curves}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["models", "optimizers", "inits"])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/mnist"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--models", nargs="+", default=["cnn", "cae", "dncnn", "win5rb", "win5rb-n2n"])
    parser.add_argument("--restart", action="store_true", help="retrain instead of resuming checkpoints")
    parser.add_argument(
        "--checkpoints", type=Path, default=Path("runs/mnist_models"), help="where weights and checkpoints go"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.command == "models":
        run_models(args)
    elif args.command == "optimizers":
        lrs = {"sgd": 0.01, "momentum": 1e-3, "nesterov": 1e-3, "adam": 1e-3, "lbfgs": 1.0, "hybrid": 1e-3}
        variants = [(name, {"init": "default"}, {"optimizer": name, "lr": lr}) for name, lr in lrs.items()]
        run_curves(args, variants, "N2N autoencoder: optimizers (default init)")
    else:
        inits = ["default", "default-positive", "xavier", "xavier-positive", "zeros"]
        variants = [(name, {"init": name}, {"optimizer": "adam", "lr": 1e-3}) for name in inits]
        run_curves(args, variants, "N2N autoencoder: initialisations (Adam)")


if __name__ == "__main__":
    main()
