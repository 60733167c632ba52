"""The training engine: data, objectives, optimizers, checkpoints, resume, the train command."""

from __future__ import annotations

import gzip
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import smooth_image
from test_models import SMALL

from denoisekit import InputError, write_image
from denoisekit.models import create_model
from denoisekit.models.weights import load_weights, shipped_weights
from denoisekit.training.data import ImageSet, PatchSampler, load_images, load_mnist
from denoisekit.training.objectives import LOSSES, NoiseSpec, Supervised
from denoisekit.training.optim import OPTIMIZERS, Hybrid, learning_rate_factor, make_optimizer
from denoisekit.training.recipes import parse_sigma, train
from denoisekit.training.trainer import TrainConfig
from denoisekit.training.trainer import train as train_loop


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    for i in range(4):
        write_image(data / f"{i}.png", smooth_image(40, 48, 1, seed=i))
    return data


def images(count: int = 3, channels: int = 1) -> ImageSet:
    arrays = [np.round(smooth_image(32, 32, channels, seed=i) * 255).astype(np.uint8) for i in range(count)]
    return ImageSet(arrays, [str(i) for i in range(count)], 255.0)


def fixed_loss(model, objective, batch) -> float:
    with torch.no_grad():
        return float(objective(model, batch, np.random.default_rng(0), "cpu"))


@pytest.mark.parametrize("name", sorted(SMALL))
def test_each_model_lowers_its_loss(name, tmp_path):
    torch.manual_seed(0)
    model = create_model(name, channels=1, **SMALL[name])
    patch = 12 if name == "n2n-autoencoder" else 16  # its 512-channel layers are the costly ones
    sampler = PatchSampler([images()], patch, 8)
    objective = Supervised(NoiseSpec(sigma=(25, 25)))
    probe = sampler.sample(np.random.default_rng(123))
    before = fixed_loss(model, objective, probe)  # train mode: BN uses batch statistics throughout
    config = TrainConfig(steps=20, batch_size=8, patch_size=patch, lr=3e-3, schedule="constant", val_every=100)
    train_loop(model, sampler, objective, config, tmp_path / "w.pt")
    assert fixed_loss(model, objective, probe) < 0.8 * before


def test_bce_trains_a_sigmoid_model_and_refuses_other_outputs(tmp_path):
    torch.manual_seed(0)
    model = create_model("cae", channels=1, **SMALL["cae"])
    sampler = PatchSampler([images()], 16, 8)
    objective, error = Supervised(NoiseSpec(sigma=(25, 25)), "bce"), Supervised(NoiseSpec(sigma=(25, 25)))
    probe = sampler.sample(np.random.default_rng(123))
    before = fixed_loss(model, error, probe)  # BCE has a floor above 0: judge by the MSE
    config = TrainConfig(steps=20, batch_size=8, patch_size=16, lr=3e-3, schedule="constant", val_every=100)
    train_loop(model, sampler, objective, config, tmp_path / "w.pt")
    assert fixed_loss(model, error, probe) < 0.8 * before
    with pytest.raises(InputError, match="bce needs outputs in"):
        LOSSES["bce"](torch.tensor([1.5]), torch.tensor([1.0]))


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_each_optimizer_lowers_the_loss(optimizer, tmp_path):
    torch.manual_seed(0)
    model = create_model("dncnn", channels=1, features=8, num_layers=4)
    sampler = PatchSampler([images()], 16, 8)
    objective = Supervised(NoiseSpec(sigma=(25, 25)))
    probe = sampler.sample(np.random.default_rng(123))
    before = fixed_loss(model, objective, probe)
    lr = {"sgd": 0.05, "momentum": 0.02, "nesterov": 0.02, "adam": 3e-3, "lbfgs": 0.5, "hybrid": 0.02}[optimizer]
    config = TrainConfig(steps=12, batch_size=8, patch_size=16, lr=lr, optimizer=optimizer, lbfgs_steps=4)
    train_loop(model, sampler, objective, config, tmp_path / "w.pt")
    assert fixed_loss(model, objective, probe) < before


def test_hybrid_hands_lbfgs_last_step_to_momentum():
    weight = torch.nn.Parameter(torch.tensor([3.0, -2.0]))
    optimizer = Hybrid([weight], lr=0.1, momentum=0.9, lbfgs_steps=2)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = ((weight - 1) ** 2).sum() + weight[0] ** 4
        loss.backward()
        return loss

    optimizer.step(closure)
    optimizer.step(closure)  # the last L-BFGS step: hands over
    state = optimizer.lbfgs.state[weight]
    velocity = optimizer.sgd.state[weight]["momentum_buffer"].clone()
    assert torch.allclose(-0.1 * velocity, state["t"] * state["d"])  # SGD's velocity = L-BFGS's last move
    before = weight.detach().clone()
    optimizer.step(closure)  # momentum from here on: the update carries 0.9 × that velocity
    grad = weight.grad.detach()
    assert torch.allclose(weight.detach() - before, -0.1 * (0.9 * velocity + grad), atol=1e-6)
    assert optimizer.steps == 2


def test_schedules():
    assert learning_rate_factor("constant", 50, 100) == 1
    assert learning_rate_factor("cosine", 0, 100) == pytest.approx(1)
    assert learning_rate_factor("cosine", 99, 100) < 0.02
    assert learning_rate_factor("step", 70, 100) == pytest.approx(0.1)
    assert learning_rate_factor("constant", 0, 100, warmup=10) == pytest.approx(0.1)
    with pytest.raises(InputError, match="unknown schedule"):
        learning_rate_factor("linear", 0, 10)


def test_sampler_augments_and_keeps_pairs_aligned():
    noisy, clean = images(2), images(2)
    sampler = PatchSampler([noisy, clean], 8, 32)
    a, b = sampler.sample(np.random.default_rng(0))
    assert a.shape == (32, 1, 8, 8) and np.array_equal(a, b)
    assert len({patch.tobytes() for patch in a}) > 20


def test_blind_noise_levels_cover_the_range():
    clean = np.full((200, 1, 16, 16), 0.5, np.float32)
    noisy, sigma = NoiseSpec(sigma=(0, 55), unclipped=1.0).apply(clean, np.random.default_rng(0))
    assert sigma.min() < 5 and sigma.max() > 50
    measured = (noisy - clean).reshape(200, -1).std(axis=1) * 255
    assert np.corrcoef(measured, sigma)[0, 1] > 0.99
    _, level = NoiseSpec("poisson", levels={"peak": 10}).apply(clean, np.random.default_rng(0))
    assert 30 < level.mean() < 70  # sqrt(0.5 * 10) / 10 * 255 ≈ 57, less after rounding


def test_an_unclipped_share_of_patches_keeps_float_noise():
    clean = np.full((400, 1, 8, 8), 0.98, np.float32)  # near white: clipping shows
    noisy, _ = NoiseSpec(sigma=(25, 25), unclipped=0.25).apply(clean, np.random.default_rng(0))
    float_patches = [(patch.max() > 1) or not np.allclose(patch * 255, np.round(patch * 255)) for patch in noisy]
    assert 0.18 < np.mean(float_patches) < 0.32
    with pytest.raises(InputError, match="unclipped"):
        NoiseSpec(unclipped=1.5)


def test_resume_reaches_the_same_state(tmp_path):
    def run(out: Path, stop_at: int | None, resume: bool = False) -> torch.nn.Module:
        torch.manual_seed(0)
        model = create_model("unet", channels=1, widths=(8, 16))
        config = TrainConfig(steps=8, batch_size=4, patch_size=16, val_every=3, checkpoint_every=100)
        validator_images = images(2)
        from denoisekit.training.trainer import Validator

        validator = Validator(validator_images, NoiseSpec(), 25)
        result = train_loop(
            model,
            PatchSampler([images()], 16, 4),
            Supervised(NoiseSpec(sigma=(0, 50))),
            config,
            out,
            validator=validator,
            resume=resume,
            progress=None if stop_at is None else lambda step, total, metrics: step < stop_at,
        )
        assert result.interrupted == (stop_at is not None)
        return model

    straight = run(tmp_path / "a.pt", None)
    run(tmp_path / "b.pt", 5)
    assert (tmp_path / "b.ckpt").exists()
    resumed = run(tmp_path / "b.pt", None, resume=True)
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    log = (tmp_path / "b.csv").read_text().splitlines()
    assert log == (tmp_path / "a.csv").read_text().splitlines()[: len(log)] or len(log) > 1


def test_train_recipe_writes_weights_card_and_log(folder, tmp_path):
    out = tmp_path / "w.pt"
    result = train(
        folder,
        out,
        model="unet",
        model_config={"widths": (8, 16)},
        sigma="0-50",
        steps=6,
        batch_size=4,
        patch_size=16,
        val_split=1,
        val_every=3,
    )
    assert result.best_psnr is not None and out.exists()
    assert out.with_suffix(".json").exists() and out.with_suffix(".ckpt").exists()
    assert len(out.with_suffix(".csv").read_text().splitlines()) >= 2
    with pytest.raises(InputError, match="pass --resume"):
        train(folder, out, steps=6, patch_size=16, val_split=1)


def test_fine_tuning_starts_from_the_given_weights(folder, tmp_path):
    common = {"model": "unet", "steps": 2, "batch_size": 4, "patch_size": 16, "val_split": 0}
    first = train(folder, tmp_path / "a.pt", model_config={"widths": (8, 16)}, **common).weights
    start = load_weights(first).model.state_dict()
    tuned = train(folder, tmp_path / "b.pt", init=first, lr=1e-9, **common).weights  # a step too small to matter
    after = load_weights(tuned).model.state_dict()
    assert all(torch.allclose(start[k].float(), after[k].float(), atol=1e-6) for k in start)
    assert json.loads((tmp_path / "b.json").read_text())["init"] == str(first)
    wider = {"widths": (12, 16)}
    grown = load_weights(train(folder, tmp_path / "c.pt", init=first, model_config=wider, **common).weights)
    assert grown.config["widths"] == (12, 16) and grown.card["init"] == str(first)
    with pytest.raises(InputError, match=r"cannot grow head\.weight from \(8, 5, 3, 3\) to \(4, 5, 3, 3\)"):
        train(folder, tmp_path / "c2.pt", init=first, model_config={"widths": (4, 8)}, **common)
    with pytest.raises(InputError, match="for 3-channel images, the data has 1"):
        train(folder, tmp_path / "d.pt", init=shipped_weights("unet", 3), **common)
    shipped = train(folder, tmp_path / "e.pt", init="shipped", lr=1e-9, **common).weights  # the gray one
    assert load_weights(shipped).config == load_weights(shipped_weights("unet", 1)).config


def test_bad_training_data_is_refused(tmp_path, folder):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="holds no image"):
        load_images(empty)
    write_image(folder / "color.png", smooth_image(40, 48, 3))
    with pytest.raises(InputError, match=r"color\.png: has 3 channel"):
        load_images(folder)
    with pytest.raises(InputError, match="smaller than"):
        load_images(tmp_path / "data" / "0.png", min_size=64)
    with pytest.raises(InputError, match="range like 0-55"):
        parse_sigma("lots")
    with pytest.raises(InputError, match=r"within 0-255"):
        parse_sigma("50-10")
    with pytest.raises(InputError, match="learning rate"):
        TrainConfig(lr=-1)
    with pytest.raises(InputError, match="unknown optimizer"):
        make_optimizer("rmsprop", [torch.nn.Parameter(torch.zeros(1))], 0.1)


def test_mnist_idx_files(tmp_path):
    digits = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    header = b"".join(n.to_bytes(4, "big") for n in (2051, 3, 28, 28))
    with gzip.open(tmp_path / "t10k-images-idx3-ubyte.gz", "wb") as file:
        file.write(header + digits.tobytes())
    loaded = load_images(tmp_path / "t10k-images-idx3-ubyte.gz")
    assert len(loaded.images) == 3 and np.array_equal(loaded.images[1][..., 0], digits[1])
    (tmp_path / "bad-idx").write_bytes(header[:8])
    with pytest.raises(InputError, match="not an MNIST"):
        load_mnist(tmp_path / "bad-idx")


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "denoisekit", *args], cwd=cwd, capture_output=True, text=True)


def test_train_then_denoise_with_the_weights(folder, tmp_path):
    common = ["--data", str(folder), "--model-config", "widths=8,16", "--patch-size", "16", "--batch-size", "4"]
    common += ["--val-split", "1", "--val-every", "2", "--out", "w.pt"]
    first = ["--steps", "4"]
    result = cli("train", *common, *first, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "best val PSNR" in result.stdout
    again = cli("train", *common, "--steps", "6", "--resume", cwd=tmp_path)
    assert again.returncode == 0 and "step 6" in again.stdout, again.stderr
    denoised = cli("denoise", str(folder / "0.png"), "-o", "out.png", "--weights", "w.pt", cwd=tmp_path)
    assert denoised.returncode == 0 and "method=unet" in denoised.stdout, denoised.stderr
    refused = cli("train", "--data", str(tmp_path / "none"), "--out", "x.pt", cwd=tmp_path)
    assert refused.returncode == 2 and "no such file or folder" in refused.stderr and "Traceback" not in refused.stderr


def test_sigint_checkpoints_and_exits(folder, tmp_path):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "denoisekit",
            "train",
            "--data",
            str(folder),
            "--model-config",
            "widths=8,16",
            "--patch-size",
            "16",
            "--batch-size",
            "4",
            "--steps",
            "100000",
            "--val-split",
            "0",
            "--out",
            "w.pt",
        ],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    log = tmp_path / "w.csv"
    deadline = time.time() + 120
    while time.time() < deadline and not (log.exists() and len(log.read_text().splitlines()) > 1):
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130 and "continue with --resume" in stderr
    state = torch.load(tmp_path / "w.ckpt", weights_only=True)
    assert state["step"] >= 10 and (tmp_path / "w.pt").exists()
