"""Self-supervised training: Noise2Noise, Noise2Void, the blind-spot network, Neighbor2Neighbor."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import smooth_image

from denoisekit import InputError, add_noise, psnr, read_image, write_image
from denoisekit.models import create_model
from denoisekit.models.blindspot import UpwardUNet, posterior_mean
from denoisekit.training.blindspot import BlindSpot
from denoisekit.training.data import ImageSet, PatchSampler, load_images, pairs_by_pattern
from denoisekit.training.neighbor2neighbor import Neighbor2Neighbor, neighbour_indices, subsample
from denoisekit.training.noise2noise import Noise2Noise
from denoisekit.training.noise2void import Noise2Void, replace_with_neighbours, stratified_mask
from denoisekit.training.objectives import NoiseSpec
from denoisekit.training.recipes import train
from denoisekit.training.trainer import TrainConfig
from denoisekit.training.trainer import train as train_loop


def noisy_set(count: int = 3, size: int = 32, channels: int = 1, seed: int = 0) -> ImageSet:
    arrays = [add_noise(smooth_image(size, size, channels, seed=i), sigma=25, seed=seed + i) for i in range(count)]
    return ImageSet([np.round(a * 255).astype(np.uint8) for a in arrays], [f"{i}.png" for i in range(count)], 255.0)


def test_blind_spot_network_never_sees_the_centre_pixel():
    torch.manual_seed(0)
    net = create_model("blindspot", channels=1, widths=(8, 8)).eval()
    for size in (17, 20):
        one_hot = torch.zeros(1, 1, size, size, requires_grad=True)
        out = net(one_hot)
        y, x = size // 2, size // 2 - 1
        out[0, 0, y, x].backward()
        seen = one_hot.grad[0, 0] != 0
        assert not seen[y, x]  # the blind spot
        assert seen[y - 1 : y + 2, x - 1 : x + 2].sum() == 8  # …and only it: every neighbour counts
    # The output at a pixel is the same whatever value that pixel holds.
    image = torch.rand(1, 1, 16, 16)
    changed = image.clone()
    changed[0, 0, 7, 9] = 1 - changed[0, 0, 7, 9]
    with torch.no_grad():
        assert net(image)[0, 0, 7, 9] == net(changed)[0, 0, 7, 9]


def test_one_branch_sees_only_the_rows_above():
    torch.manual_seed(0)
    branch = UpwardUNet(1, (8, 8), 2)
    image = torch.zeros(1, 1, 16, 16, requires_grad=True)
    branch(image)[0, :, 8, 5].sum().backward()
    seen_rows = (image.grad[0, 0] != 0).any(dim=1).nonzero().flatten()
    assert seen_rows.max() == 7 and seen_rows.min() < 4


def test_posterior_mean_weighs_prediction_and_pixel_by_their_variances():
    mean, noisy = torch.zeros(1, 1, 1, 1), torch.ones(1, 1, 1, 1)
    covariance = torch.full((1, 1, 1, 1, 1), 0.04)  # prior std 0.2
    out = posterior_mean(mean, covariance, noisy, torch.tensor([0.2]))  # noise std 0.2: halfway
    assert out.item() == pytest.approx(0.5)
    assert posterior_mean(mean, covariance, noisy, torch.tensor([1e-3])).item() == pytest.approx(1, abs=1e-3)


def test_noise2void_masks_are_stratified_and_hide_the_pixel():
    rng = np.random.default_rng(0)
    mask = stratified_mask(4, 40, 40, 0.01, rng)  # 10×10 cells: one pixel in each
    assert mask.sum() == 4 * 16
    assert all(mask[b, i : i + 10, j : j + 10].sum() == 1 for b in range(4) for i in (0, 10) for j in (20, 30))
    # One-hot images whose hot pixel is masked: after replacement the network sees zeros only.
    hot = np.argwhere(mask)
    images = torch.zeros(4, 3, 40, 40)
    for b in range(4):
        _, y, x = hot[hot[:, 0] == b][0]
        images[b, :, y, x] = 1.0
        masked = replace_with_neighbours(images[b : b + 1], mask[b : b + 1], rng)
        assert masked.abs().sum() == 0
    # Every masked pixel takes a value from its 5×5 neighbourhood, never its own.
    coords = torch.arange(40 * 40, dtype=torch.float32).view(1, 1, 40, 40).expand(4, 1, 40, 40)
    replaced = replace_with_neighbours(coords, mask, rng)
    b, y, x = np.nonzero(mask)
    source = replaced[b, 0, y, x].numpy().astype(int)
    dy, dx = source // 40 - y, source % 40 - x
    assert np.abs(dy).max() <= 2 and np.abs(dx).max() <= 2 and not np.any((dy == 0) & (dx == 0))
    assert torch.equal(replaced[torch.from_numpy(~mask)[:, None]], coords[torch.from_numpy(~mask)[:, None]])


def test_neighbour_subsampler_pairs_adjacent_pixels_of_each_cell():
    rng = np.random.default_rng(0)
    y, x = torch.meshgrid(torch.arange(12.0), torch.arange(10.0), indexing="ij")
    coords = torch.stack([y, x])[None].expand(3, 2, 12, 10)
    first, second = neighbour_indices(3, 12, 10, rng)
    a, b = subsample(coords, first), subsample(coords, second)
    assert a.shape == (3, 2, 6, 5)
    assert torch.all((a - b).abs().sum(dim=1) == 1)  # side by side: never the same pixel, never diagonal
    assert torch.equal(a // 2, b // 2) and torch.equal(a[0, 0] // 2, torch.arange(6.0)[:, None].expand(6, 5))
    assert len(np.unique(first)) == 4  # every position of the cell is drawn


def loss_after(objective, model, sets, steps: int, tmp_path: Path, patch: int = 16) -> tuple[float, float]:
    sampler = PatchSampler(sets, patch, 8)
    probe = sampler.sample(np.random.default_rng(123))

    def probe_loss() -> float:
        with torch.no_grad():
            return float(objective(model, probe, np.random.default_rng(7), "cpu"))

    before = probe_loss()
    config = TrainConfig(steps=steps, batch_size=8, patch_size=patch, lr=3e-3, schedule="constant")
    train_loop(model, sampler, objective, config, tmp_path / "w.pt")
    return before, probe_loss()


@pytest.mark.parametrize(
    "method",
    ["n2n", "n2v", "ne2ne", "blindspot", "blindspot-posterior", "n2n-synthetic"],
)
def test_each_method_lowers_its_loss(method, tmp_path):
    torch.manual_seed(0)
    unet = create_model("unet", channels=1, widths=(8, 16), noise_map=False)
    blind = create_model("blindspot", channels=1, widths=(8, 8), posterior=method.endswith("posterior"))
    cases = {
        "n2n": (Noise2Noise(), unet, [noisy_set(seed=0), noisy_set(seed=10)]),
        "n2v": (Noise2Void(fraction=0.05), unet, [noisy_set()]),
        "ne2ne": (Neighbor2Neighbor(), unet, [noisy_set()]),
        "blindspot": (BlindSpot(), blind, [noisy_set()]),
        "blindspot-posterior": (BlindSpot(sigma=25), blind, [noisy_set()]),
        "n2n-synthetic": (Noise2Noise(NoiseSpec(sigma=(25, 25))), unet, [noisy_set()]),
    }
    objective, model, sets = cases[method]
    before, after = loss_after(objective, model, sets, 25, tmp_path)
    assert after < before - 0.1 * abs(before)


def test_pairs_by_pattern_groups_shots_of_a_scene():
    shots = noisy_set(5)
    shots.names = ["a_1.png", "a_2.png", "a_3.png", "b_1.png", "b_2.png"]
    first, second = pairs_by_pattern(shots, r"(.+)_\d+")
    pairs = set(zip(first.names, second.names, strict=True))
    assert pairs == {("a_1.png", "a_2.png"), ("a_1.png", "a_3.png"), ("a_2.png", "a_3.png"), ("b_1.png", "b_2.png")}
    shots.names[4] = "c_1.png"
    with pytest.raises(InputError, match="scene 'b' has one shot"):
        pairs_by_pattern(shots, r"(.+)_\d+")
    with pytest.raises(InputError, match="needs a group"):
        pairs_by_pattern(shots, r".+")


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "denoisekit", *args], cwd=cwd, capture_output=True, text=True)


@pytest.fixture
def noisy_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "noisy"
    folder.mkdir()
    for i in range(3):
        write_image(folder / f"{i}.png", add_noise(smooth_image(40, 40, 1, seed=i), sigma=25, seed=i), bit_depth=8)
    return folder


def test_train_n2v_on_one_large_noisy_image_then_denoise(tmp_path):
    clean = smooth_image(96, 96, 1)
    noisy = add_noise(clean, sigma=25, seed=0)
    write_image(tmp_path / "big.png", noisy, bit_depth=16)
    args = ["--method", "n2v", "--data", "big.png", "--model-config", "widths=8,16", "--patch-size", "32"]
    args += ["--batch-size", "8", "--steps", "60", "--lr", "3e-3", "--mask-fraction", "0.02", "--out", "n2v.pt"]
    result = cli("train", *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    result = cli("denoise", "big.png", "-o", "out.png", "--weights", "n2v.pt", cwd=tmp_path)
    assert result.returncode == 0 and "method=unet" in result.stdout, result.stderr
    out, _ = read_image(tmp_path / "out.png")
    assert psnr(clean, out) > psnr(clean, noisy) + 2


def test_blindspot_posterior_estimates_the_noise_level(noisy_folder, tmp_path):
    out = tmp_path / "bs.pt"
    result = train(
        noisy_folder,
        out,
        method="blindspot",
        model_config={"widths": (8, 8), "posterior": True},
        steps=3,
        batch_size=2,
        patch_size=16,
    )
    assert result.step == 3
    card = out.with_suffix(".json").read_text()
    level = load_card_sigma(card)
    assert 18 < level < 32  # the data hold sigma 25 noise, estimated since none was given


def load_card_sigma(card: str) -> float:
    import json

    return json.loads(card)["noise"]["sigma"][0]


def test_self_supervised_data_errors(noisy_folder, tmp_path):
    def refused(*args: str) -> str:
        result = cli("train", "--out", "x.pt", "--steps", "1", "--patch-size", "16", *args, cwd=tmp_path)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        return result.stderr

    assert "two noisy shots" in refused("--method", "n2n", "--data", str(noisy_folder))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "holds no image" in refused("--method", "n2v", "--data", str(empty))
    other = tmp_path / "other"
    other.mkdir()
    for i in range(3):
        write_image(other / f"{i}.png", smooth_image(40, 48 if i == 1 else 40, 1))
    assert "differ in size" in refused("--method", "n2n", "--data", str(noisy_folder), "--pair-data", str(other))
    write_image(other / "3.png", smooth_image(40, 40, 3))
    assert "3 channel" in refused("--method", "ne2ne", "--data", str(other))
    assert "--clean-pairs is for supervised" in refused(
        "--method", "n2v", "--data", str(noisy_folder), "--clean-pairs", str(other)
    )
    assert "cannot validate itself" in refused("--method", "n2v", "--data", str(noisy_folder), "--val-split", "1")
    assert "needs the blindspot model" in refused(
        "--method", "blindspot", "--model", "unet", "--data", str(noisy_folder)
    )
    assert load_images(noisy_folder).channels == 1


def test_self_supervised_run_resumes_to_the_same_weights(tmp_path):
    def run(out: Path, stop_at: int | None, resume: bool = False) -> torch.nn.Module:
        torch.manual_seed(0)
        model = create_model("unet", channels=1, widths=(8, 16), noise_map=False, residual=False)
        config = TrainConfig(steps=6, batch_size=4, patch_size=16, checkpoint_every=100)
        train_loop(
            model,
            PatchSampler([noisy_set()], 16, 4),
            Noise2Void(fraction=0.05),
            config,
            out,
            resume=resume,
            progress=None if stop_at is None else lambda step, total, metrics: step < stop_at,
        )
        return model

    straight = run(tmp_path / "a.pt", None)
    run(tmp_path / "b.pt", 3)
    resumed = run(tmp_path / "b.pt", None, resume=True)
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)
