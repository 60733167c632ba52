"""Zero-shot methods: Deep Image Prior (fitting loop, stopping rules, oracle mode), ZS-N2N, Pixel2Pixel.

Tiny images and short fits, one torch thread: the whole file takes well under a minute.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import smooth_image

import denoisekit as dk
from denoisekit import io
from denoisekit.cli import main
from denoisekit.errors import Cancelled, InputError
from denoisekit.figures import fourier_spectrum, zero_shot_figures
from denoisekit.precision import use_bfloat16
from denoisekit.zeroshot.dip import fit
from denoisekit.zeroshot.history import RunHistory
from denoisekit.zeroshot.methods import TWIN_WEIGHT, twin_weights
from denoisekit.zeroshot.pixel2pixel import bank_sizes, pixel_bank, pseudo_instances
from denoisekit.zeroshot.single_image import train_steps
from denoisekit.zeroshot.skipnet import SkipConfig, build_skip_net
from denoisekit.zeroshot.stopping import Discrepancy, OraclePSNR, WindowedVariance, holdout_mask
from denoisekit.zeroshot.zsn2n import denoise_with, zs_n2n

SMALL = {"width": 16, "finest": 16, "depth": 3, "skip": 4}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray]:
    clean = smooth_image(40, 40, 1)
    return clean, dk.add_noise(clean, sigma=25, seed=1)


@pytest.fixture(scope="module")
def oracle_run(pair) -> tuple[np.ndarray, RunHistory]:
    """One oracle-mode fit shared by several tests (the slowest thing here)."""
    clean, noisy = pair
    torch.set_num_threads(1)
    history = RunHistory()
    out = dk.denoise(noisy, "dip", 25, device="cpu", reference=clean, history=history, iterations=200, **SMALL)
    return out, history


def test_skip_net_shapes_and_any_image_size():
    net = build_skip_net(SkipConfig(channels=(8, 8, 8), skip=(2, 0, 2), upsample="nearest"), 32, 3)
    assert net(torch.zeros(1, 32, 16, 24)).shape == (1, 3, 16, 24)
    # Sides that are neither multiples of 2**depth nor larger than it: the code is padded.
    noisy = np.random.default_rng(0).random((5, 13, 1), dtype=np.float32)
    out = dk.denoise(noisy, "dip", 25, device="cpu", iterations=3, width=4, depth=5)
    assert out.shape == (5, 13, 1) and out.dtype == np.float32


def test_unshuffled_skip_net_outputs_every_pixel():
    net = build_skip_net(SkipConfig(channels=(8, 8), skip=(2, 2), unshuffle=2), 32, 3)
    assert (net.multiple, net.min_size) == (8, 16)
    code = torch.rand(1, 32, 16, 24, generator=torch.Generator().manual_seed(0))
    assert net(code).shape == (1, 3, 16, 24)
    noisy = np.random.default_rng(0).random((5, 13, 1), dtype=np.float32)
    out = dk.denoise(noisy, "dip", 25, device="cpu", iterations=3, width=4, depth=2, unshuffle=2)
    assert out.shape == (5, 13, 1)
    with pytest.raises(ValueError, match="unshuffle"):
        SkipConfig(unshuffle=0)


@pytest.mark.parametrize("unshuffle", [1, 2])
def test_dip_lowers_its_loss(pair, unshuffle):
    _, noisy = pair
    torch.manual_seed(0)
    net = build_skip_net(SkipConfig(channels=(8, 8), skip=(2, 2), unshuffle=unshuffle), 32, 1)
    _, history = fit(net, noisy, iterations=60)
    assert np.mean(history.loss[-10:]) < 0.5 * np.mean(history.loss[:5])


def test_oracle_mode_reports_best_and_last(pair, oracle_run):
    clean, noisy = pair
    out, history = oracle_run
    fit_ = history.fits[0]
    assert fit_.iterations == 200  # oracle mode runs the whole budget
    assert len(fit_.psnr) == 200 and 1 <= fit_.best <= 200
    assert fit_.best_psnr == pytest.approx(max(fit_.psnr))
    assert fit_.last_psnr == pytest.approx(fit_.psnr[-1])
    assert fit_.gap >= 0 and "oracle best" in history.summary()
    # A short fit already beats the noisy input on a smooth image, with the no-reference pick.
    assert dk.psnr(clean, out) > dk.psnr(clean, noisy) + 3
    assert fit_.picked_psnr == pytest.approx(dk.psnr(clean, fit_.images["picked"]), abs=0.05)


def test_no_reference_rule_stops_before_the_end(pair):
    clean, noisy = pair
    history = RunHistory()
    out = dk.denoise(noisy, "dip", 25, device="cpu", history=history, iterations=3000, patience=50, **SMALL)
    fit_ = history.fits[0]
    assert fit_.stopped_at == fit_.iterations == fit_.picked + 50 < 3000 and not fit_.psnr
    assert dk.psnr(clean, out) > dk.psnr(clean, noisy) + 3
    # Oracle mode runs on past the stop but returns exactly what the no-reference run returned.
    oracle = RunHistory()
    again = dk.denoise(
        noisy,
        "dip",
        25,
        device="cpu",
        reference=clean,
        history=oracle,
        patience=50,
        **SMALL,
        iterations=fit_.stopped_at + 10,
    )
    assert oracle.fits[0].picked == fit_.picked and oracle.fits[0].stopped_at == fit_.stopped_at
    np.testing.assert_array_equal(again, out)


def test_default_rule_holds_pixels_out_of_the_fit(pair):
    _, noisy = pair
    held = holdout_mask(40, 40, 0.1, seed=3)  # what the default rule holds out for seed 3
    garbage = noisy.copy()
    garbage[held] = 1.0

    def run(image):
        history = RunHistory()
        dk.denoise(image, "dip", 25, device="cpu", history=history, iterations=15, seed=3, **SMALL)
        return history.fits[0]

    first, changed = run(noisy), run(garbage)
    assert first.rule == "self-validation"
    assert first.loss == changed.loss  # the held-out pixels never reach the loss...
    assert changed.criterion[-1] > first.criterion[-1]  # ...only the criterion


def test_stop_oracle_returns_the_best(pair):
    clean, noisy = pair
    history = RunHistory()
    out = dk.denoise(
        noisy, "dip", 25, device="cpu", reference=clean, history=history, iterations=40, stop="oracle", **SMALL
    )
    assert dk.psnr(clean, out) == pytest.approx(history.fits[0].best_psnr, abs=0.05)
    with pytest.raises(InputError, match="needs the clean image"):
        dk.denoise(noisy, "dip", 25, device="cpu", iterations=5, stop="oracle")


def test_rules_pick_steps():
    variance = WindowedVariance(window=3, patience=2)
    values = [variance.update(s, torch.full((1, 1, 2, 2), v), None) for s, v in enumerate([0.0, 1, 1, 1, 5, 0], 1)]
    assert np.isnan(values[:2]).all() and variance.best_step == 4 and variance.should_stop(6)
    # A plateau within the tolerance moves the pick forward; a rise does not.
    plateau = WindowedVariance(window=2, patience=2, tolerance=0.05)
    series = iter([1.0, 0.5, 0.51, 0.52, 0.9, 0.9])
    plateau.value = lambda step, raw, smoothed: next(series)
    for step in range(1, 7):
        plateau.update(step, None, None)
    assert plateau.best_step == 4 and plateau.best_value == 0.5 and plateau.should_stop(6)
    noisy = torch.zeros(1, 1, 4, 4)
    discrepancy = Discrepancy(noisy, sigma=25.5)  # sigma² = 0.01
    for step, level in enumerate([0.3, 0.2, 0.09, 0.05], 1):
        discrepancy.update(step, noisy, noisy + level)
    assert discrepancy.best_step == 3  # the first step with MSE <= sigma²
    oracle = OraclePSNR(torch.zeros(1, 1, 2, 2))
    oracle.update(1, torch.full((1, 1, 2, 2), 0.1), None)
    assert oracle.best_value == pytest.approx(20.0)


def test_repeats_average_and_record_each(pair):
    clean, noisy = pair
    history = RunHistory()
    dk.denoise(noisy, "dip", 25, device="cpu", reference=clean, history=history, iterations=10, repeats=2, width=4)
    assert [f.seed for f in history.fits] == [0, 1] and all(f.best is not None for f in history.fits)


def test_time_budget_ends_the_fit_with_the_pick_so_far(pair):
    _, noisy = pair
    history = RunHistory()
    out = dk.denoise(noisy, "dip", 25, device="cpu", history=history, iterations=5000, minutes=0.05, **SMALL)
    fit_ = history.fits[0]
    assert 1 <= fit_.iterations < 5000 and fit_.stopped_at == fit_.iterations
    assert fit_.seconds < 3 * 60 * 0.05 + 1  # the budget, plus the one iteration that spent it
    assert fit_.picked <= fit_.iterations and out.shape == noisy.shape


def test_cancellation(pair):
    _, noisy = pair
    seen = []

    def stop_at_five(step, total, metrics):
        seen.append(metrics)
        return step < 5

    with pytest.raises(Cancelled):
        dk.denoise(noisy, "dip", 25, device="cpu", progress=stop_at_five, iterations=50, width=4)
    assert len(seen) == 5 and {"loss", "criterion"} <= set(seen[0])
    with pytest.raises(Cancelled):
        dk.denoise(noisy, "zs-n2n", device="cpu", progress=lambda s, t, m: False)


@pytest.mark.parametrize(
    ("method", "params", "message"),
    [
        ("dip", {"iterations": 0}, "iterations"),
        ("dip", {"stop": "sometime"}, "stop"),
        ("dip", {"lr": -1}, "lr"),
        ("dip", {"minutes": 0}, "minutes"),
        ("zs-n2n", {"iterations": -5}, "iterations"),
        ("zs-n2n", {"crop": "big"}, "crop"),
        ("zs-n2n", {"views": 3}, "views"),
        ("pixel2pixel", {"bank": 1}, "bank"),
        ("pixel2pixel", {"window": 8}, "odd"),
        ("pixel2pixel", {"bank": 30, "window": 5}, "fewer than bank=30"),
        ("pixel2pixel", {"iterations": 0}, "iterations"),
        ("pixel2pixel", {"similarity": -1}, "similarity"),
        ("zs-blend", {"weight": 1.5}, "weight"),
        ("zs-blend", {"zs_iterations": 0}, "zs_iterations"),
        ("zs-blend", {"precision": "float16"}, "precision"),
    ],
)
def test_bad_parameters(pair, method, params, message):
    with pytest.raises(InputError, match=message):
        dk.denoise(pair[1], method, 25, device="cpu", **params)


def test_zs_n2n_improves_psnr():
    clean = smooth_image(48, 48, 3)
    noisy = dk.add_noise(clean, sigma=25, seed=2)
    out = dk.denoise(noisy, "zs-n2n", device="cpu", iterations=200, crop=32)
    assert out.shape == noisy.shape and dk.psnr(clean, out) > dk.psnr(clean, noisy) + 3
    with pytest.raises(InputError, match="2×2"):
        dk.denoise(noisy[:1], "zs-n2n", 25, device="cpu", iterations=1)
    single = dk.denoise(noisy, "zs-n2n", device="cpu", iterations=200, crop=32, views=1)
    assert dk.psnr(clean, single) > dk.psnr(clean, noisy) + 3 and not np.allclose(single, out)
    network = dk.denoise(noisy, "zs-n2n", device="cpu", iterations=200, crop=32, refine="none")
    assert dk.psnr(clean, out) > dk.psnr(clean, network) + 1  # the Wiener step


def test_zs_n2n_views_undo_each_rotation_and_flip():
    # Not square: a wrong inverse changes the shape or the pixels.
    image = torch.rand(1, 3, 6, 10, generator=torch.Generator().manual_seed(0))
    shifted = denoise_with(lambda x: x * 0 + x[..., :1, :1], image, views=8)  # 'noise' = corner pixel
    corners = torch.stack([image[..., 0, 0], image[..., 0, -1], image[..., -1, 0], image[..., -1, -1]])
    assert torch.allclose(shifted, image - corners.mean(0)[..., None, None], atol=1e-6)
    with pytest.raises(ValueError, match="views must be 1 or 8"):  # the function, not only the method
        zs_n2n(np.zeros((4, 4, 1), np.float32), iterations=1, views=3)


def test_pixel_bank_finds_the_repeated_patch():
    # A stripe pattern repeats every 6 columns: the most similar pixels of each pixel lie 6 apart,
    # so with no noise the bank's entries equal the pixel itself.
    columns = np.sin(np.arange(30) * 2 * np.pi / 6).astype(np.float32)
    image = torch.from_numpy(np.tile(columns, (30, 1)))[None, None]
    image = image + 0.01 * torch.arange(30.0)[:, None]  # rows differ a little: no exact ties
    bank, distances = pixel_bank(image, bank=3, window=13, patch=3)
    assert bank.shape == (3, 1, 30, 30) and distances.shape == (3, 30, 30)
    assert torch.equal(bank[0], image[0]) and (distances[0] == 0).all()  # the pixel itself first
    assert (distances[1:] >= distances[:-1]).all()
    inner = (slice(None), slice(None), slice(8, 22), slice(8, 22))  # away from the padded border
    assert torch.allclose(bank[1:][inner], image[0].expand(2, 1, 30, 30)[inner], atol=0.03)


def test_pseudo_instances_always_differ_in_their_bank_entry():
    bank = torch.arange(4.0).view(4, 1, 1, 1).expand(4, 2, 9, 9)  # entry k holds the value k
    first, second = pseudo_instances(bank, torch.full((1, 1, 9, 9), 4), torch.Generator().manual_seed(0))
    assert first.shape == second.shape == (1, 2, 9, 9)
    assert (first != second).all() and len(first.unique()) == 4  # all entries drawn


def test_pseudo_instances_draw_only_from_each_pixels_first_entries():
    bank = torch.arange(8.0).view(8, 1, 1, 1).expand(8, 1, 20, 20)
    sizes = torch.full((1, 1, 20, 20), 8)
    sizes[..., :10] = 2  # the left half keeps only the pixel and its closest twin
    first, second = pseudo_instances(bank, sizes, torch.Generator().manual_seed(0))
    assert (first != second).all()
    assert set(first[..., :10].unique().tolist()) == {0, 1} and first[..., 10:].max() > 1


def test_bank_sizes_keep_entries_within_twice_the_noise_variance():
    sigma = 25.0
    level = 2 * (sigma / 255) ** 2  # the mean distance of two noisy shots of one patch
    distances = torch.tensor([0.0, 0.5, 0.9, 1.1, 3.0]).mul(level).view(5, 1, 1).expand(5, 2, 2).clone()
    distances[1:, 0, 0] = 5 * level  # no twin at all: the closest one is still kept
    sizes = bank_sizes(distances, sigma, similarity=1.0)
    assert sizes.shape == (1, 1, 2, 2)
    assert sizes[0, 0, 0, 0] == 2 and sizes[0, 0, 1, 1] == 3
    assert (bank_sizes(distances, sigma, similarity=None) == 5).all()


def flat_and_textured() -> np.ndarray:
    """A 40² colour image: the left half flat, the right half random texture (no twins there)."""
    clean = np.full((40, 40, 3), 0.5, np.float32)
    clean[:, 20:] = np.random.default_rng(0).random((40, 20, 3), dtype=np.float32)
    return clean


def test_textured_pixels_have_fewer_twins_and_lean_on_zs_n2n():
    clean = flat_and_textured()
    noisy = torch.from_numpy(dk.add_noise(clean, sigma=25, seed=1)).permute(2, 0, 1)[None]
    _, distances = pixel_bank(noisy, bank=8, window=11, patch=5)
    twins = bank_sizes(distances, 25.0, similarity=1.0)
    assert twins[..., 4:16].float().mean() > 6 and twins[..., 26:].float().mean() < 3
    share = twin_weights(twins, bank=8)
    assert share.shape == twins.shape
    assert share[..., 4:12].mean() > 0.8 * TWIN_WEIGHT and share[..., 28:].mean() < 0.3 * TWIN_WEIGHT
    full = twin_weights(torch.full((1, 1, 9, 9), 8), bank=8)
    assert torch.allclose(full, torch.full_like(full, TWIN_WEIGHT))  # the border is padded, not zero


def test_zs_blend_reports_its_members_and_share(tmp_path):
    clean = flat_and_textured()
    noisy = dk.add_noise(clean, sigma=25, seed=1)
    history = RunHistory()
    out = dk.denoise(noisy, "zs-blend", 25, iterations=20, zs_iterations=20, reference=clean, history=history)
    assert set(history.panels) == {"Pixel2Pixel", "ZS-N2N", "Blend", "Pixel2Pixel's share"}
    share = history.panels["Pixel2Pixel's share"]
    assert share.shape == (40, 40, 1) and share[:, :12].mean() > 0.7 and share[:, 28:].max() < 0.1
    members, blend = (history.panels["Pixel2Pixel"], history.panels["ZS-N2N"]), history.panels["Blend"]
    assert np.allclose(blend, share * members[0] + (1 - share) * members[1], atol=1e-5)
    assert dk.psnr(clean, out) > dk.psnr(clean, blend)  # the Wiener step
    assert f"Pixel2Pixel {dk.psnr(clean, members[0]):.2f} dB" in history.summary()
    assert f"Blend {dk.psnr(clean, blend):.2f} dB" in history.summary()
    figures = zero_shot_figures(tmp_path, "blend", noisy, out, clean, history)
    assert [path.name for path in figures] == ["blend_spectra.png", "blend_images.png"]
    plain = zero_shot_figures(tmp_path / "plain", "blend", noisy, out, clean)
    heights = [io.read_image(paths[1])[0].shape[0] for paths in (figures, plain)]
    assert heights[0] > 1.5 * heights[1]  # a second row of panels: the members and the share


def test_pixel2pixel_improves_psnr():
    clean = smooth_image(48, 48, 3)
    noisy = dk.add_noise(clean, sigma=25, seed=2)
    out = dk.denoise(noisy, "pixel2pixel", device="cpu", iterations=150, window=9, crop=32)
    assert out.shape == noisy.shape and out.dtype == np.float32
    network = dk.denoise(noisy, "pixel2pixel", device="cpu", iterations=150, window=9, crop=32, refine="none")
    assert dk.psnr(clean, network) > dk.psnr(clean, noisy) + 3
    assert dk.psnr(clean, out) > dk.psnr(clean, network) + 1  # the Wiener step


def test_bfloat16_training_learns_as_well_as_float32():
    clean = smooth_image(48, 48, 3)
    noisy = dk.add_noise(clean, sigma=25, seed=2)
    outs = {
        precision: dk.denoise(
            noisy, "pixel2pixel", 25, device="cpu", iterations=150, window=9, crop=32, precision=precision
        )
        for precision in ("float32", "bfloat16")
    }
    assert not np.array_equal(outs["float32"], outs["bfloat16"])  # the arithmetic did change
    assert abs(dk.psnr(clean, outs["bfloat16"]) - dk.psnr(clean, outs["float32"])) < 0.5
    assert outs["bfloat16"].dtype == np.float32  # the output stays float32
    assert use_bfloat16("bfloat16", "cpu") and not use_bfloat16("float32", "cpu")
    assert use_bfloat16("auto", "cpu") == torch.ops.mkldnn._is_mkldnn_bf16_supported()
    with pytest.raises(InputError, match="precision"):
        use_bfloat16("half", "cpu")


def test_divergence_guard_undoes_a_jump_of_the_loss():
    torch.manual_seed(0)
    net = torch.nn.Linear(4, 1)
    x = torch.randn(64, 4)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    optimizer = torch.optim.Adam(net.parameters(), lr=0.05)
    schedule = torch.optim.lr_scheduler.StepLR(optimizer, step_size=10_000)
    losses = []

    def step_loss() -> torch.Tensor:
        if len(losses) == 599:  # a blow-up Adam alone would take thousands of steps to undo
            with torch.no_grad():
                net.weight.mul_(1000)
        return torch.nn.functional.mse_loss(net(x), y)

    train_steps(step_loss, optimizer, schedule, 1200, lambda step, total, m: losses.append(m["loss"]) is None)
    assert min(losses[599:850]) > 1e4 * losses[598]  # the jump happened and lasted (a spike may pass)...
    assert max(losses[1000:]) < 1e-2 and losses[-1] < 1e-4  # ...then it was undone


def test_fourier_spectrum_separates_noise_from_structure(pair):
    clean, noisy = pair
    # White noise lifts the high frequencies; the clean image's energy sits at the centre.
    corner = (slice(0, 8), slice(0, 8))
    assert fourier_spectrum(noisy)[corner].mean() > 2 * fourier_spectrum(clean)[corner].mean()


def test_cli_writes_figures(tmp_path: Path, pair):
    clean, noisy = pair
    noisy_path, clean_path = tmp_path / "noisy.png", tmp_path / "clean.png"
    io.write_image(noisy_path, noisy)
    io.write_image(clean_path, clean)
    figures = tmp_path / "figures"
    command = [sys.executable, "-m", "denoisekit", "--threads", "1", "denoise", str(noisy_path)]
    command += ["-o", str(tmp_path / "out.png"), "--method", "dip", "--iterations", "20", "--sigma", "25"]
    command += ["--figures", str(figures), "--reference", str(clean_path), "-p", "width=8", "--device", "cpu"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "oracle best" in done.stdout and "PSNR=" in done.stdout
    written = sorted(p.name for p in figures.iterdir())
    assert written == ["noisy_curve.png", "noisy_images.png", "noisy_spectra.png"]
    assert all((figures / name).stat().st_size < 300_000 for name in written)


def test_figures_for_any_method(tmp_path: Path, pair):
    # Methods without a fit history still get the spectra and the crops.
    clean, noisy = pair
    io.write_image(tmp_path / "n.png", noisy)
    io.write_image(tmp_path / "c.png", clean)
    args = ["denoise", str(tmp_path / "n.png"), "-o", str(tmp_path / "o.png"), "-m", "median", "--sigma", "25"]
    assert main([*args, "--reference", str(tmp_path / "c.png"), "--figures", str(tmp_path / "f")]) == 0
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == ["n_images.png", "n_spectra.png"]


def test_cli_rejects_bad_iterations(tmp_path: Path, pair, capsys):
    io.write_image(tmp_path / "noisy.png", pair[1])
    code = main(
        ["denoise", str(tmp_path / "noisy.png"), "-o", str(tmp_path / "o.png"), "-m", "dip", "--iterations", "0"]
    )
    assert code == 2 and "iterations=0 must be in [1" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()


def test_zs_blend_beats_both_of_its_members():
    clean = smooth_image(48, 48, 3)
    noisy = dk.add_noise(clean, sigma=25, seed=2)
    steps = []
    out = dk.denoise(
        noisy, "zs-blend", sigma=25, device="cpu", iterations=150, zs_iterations=150, crop=32,
        progress=lambda step, total, metrics: steps.append((step, total)) is None,
    )  # fmt: skip
    assert out.shape == noisy.shape and out.dtype == np.float32
    assert steps[0] == (1, 300) and steps[-1] == (300, 300)  # one bar over both trainings
    alone = [
        dk.denoise(noisy, m, 25, device="cpu", iterations=150, crop=32, refine="none")
        for m in ("pixel2pixel", "zs-n2n")
    ]
    assert dk.psnr(clean, out) > max(dk.psnr(clean, x) for x in alone) + 2  # the Wiener step
    halves = dk.denoise(
        noisy, "zs-blend", 25, device="cpu", iterations=150, zs_iterations=150, crop=32, weight=0.5, refine="none"
    )
    assert np.allclose(halves, (alone[0] + alone[1]) / 2, atol=1.5 / 255)  # a fixed share: a plain average
    assert dk.psnr(clean, halves) > max(dk.psnr(clean, x) for x in alone)  # the two err differently
    with pytest.raises(InputError, match="2×2"):
        dk.denoise(noisy[:1], "zs-blend", 25, device="cpu", iterations=1, zs_iterations=1)
