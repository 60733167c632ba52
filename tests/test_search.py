"""NAS-DIP (issue 7): search space, networks, controller, strategies, executors, the search
loop's log/cache/resume, the ``search`` command and the ``nas-dip`` method.

Tiny images (≤ 24²), depth 2–3, a few channels and a few iterations, one torch thread.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import smooth_image

import denoisekit as dk
from denoisekit import io
from denoisekit.cli import main
from denoisekit.errors import InputError
from denoisekit.search import scoring
from denoisekit.search.controller import Controller, Reinforce
from denoisekit.search.network import build_network
from denoisekit.search.runner import read_log, run_search, score_genotype
from denoisekit.search.space import (
    CELL_CHOICES,
    Cell,
    Genotype,
    decisions,
    default_genotype,
    read_genotype,
    sample_random,
    write_genotype,
)
from denoisekit.search.strategies import make_strategy
from denoisekit.zeroshot.dip import fit, to_tensor
from denoisekit.zeroshot.stopping import SelfValidation, holdout_mask

TINY = {"iterations": 2, "size": 16, "depth": 2, "finest": 4, "width": 4}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def clean_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("images") / "clean.png"
    io.write_image(path, smooth_image(24, 20, 1))
    return path


def _fit_once(genotype: Genotype, image: np.ndarray) -> np.ndarray:
    torch.manual_seed(0)
    net = build_network(genotype, 32, image.shape[2], finest=4, width=8)
    out, history = fit(net, image, iterations=1)
    assert np.isfinite(history.loss[0])
    return out


@pytest.mark.parametrize(("field", "value"), [(f, v) for f, values in CELL_CHOICES.items() for v in values])
def test_every_choice_builds_and_fits_on_odd_sizes(field, value):
    # Each choice in a cell of its own, all connections on, on sides that are neither even nor
    # multiples of 2**depth (the code is padded, the output cropped).
    cell = Cell(**{**Cell().__dict__, field: value})
    links = ((0, 1, 2),) * 3
    genotype = Genotype(3, (cell, Cell(), cell), links)
    noisy = np.random.default_rng(0).random((11, 7, 3), dtype=np.float32)
    assert _fit_once(genotype, noisy).shape == (11, 7, 3)


def test_random_and_extreme_genotypes_build():
    rng = np.random.default_rng(0)
    image = np.random.default_rng(1).random((5, 9, 1), dtype=np.float32)
    for depth in (1, 2, 4):
        for shared in (True, False):
            assert _fit_once(sample_random(rng, depth, shared), image).shape == (5, 9, 1)
    # The widest dilated kernel on the coarsest levels (padding larger than the map) and no links.
    widest = Cell("bicubic", "conv", 7, 3, "relu")
    assert _fit_once(Genotype(4, (widest,), ((),) * 4), image).shape == (5, 9, 1)
    net = build_network(default_genotype(3), 32, 1, finest=4, width=8)
    assert net.multiple == 8 and net.min_size == 16


def test_genotype_json_round_trip_hash_and_choices(tmp_path: Path):
    rng = np.random.default_rng(3)
    genotype = sample_random(rng, 4, shared=False)
    assert Genotype.from_dict(json.loads(json.dumps(genotype.to_dict()))) == genotype
    path = write_genotype(tmp_path / "arch.json", genotype, info={"reward": 30.0})
    assert read_genotype(path) == genotype == read_genotype(path.read_text())
    assert Genotype.from_choices(genotype.to_choices(), 4, shared=False) == genotype
    assert len(genotype.to_choices()) == len(decisions(4, shared=False)) == 4 * 5 + 4 * 4
    # Kernel and dilation do not change a weightless transformation: same network, same hash.
    a = Genotype(2, (Cell(transform="additive", kernel=3, dilation=2),), ((), (0,)))
    b = Genotype(2, (Cell(transform="additive", kernel=7, dilation=1),), ((), (0,)))
    c = Genotype(2, (Cell(transform="conv", kernel=7, dilation=1),), ((), (0,)))
    assert a != b and a.hash() == b.hash() != c.hash()
    one_by_one = [Genotype(2, (Cell(kernel=1, dilation=d),), ((), (0,))) for d in (1, 3)]
    assert one_by_one[0].hash() == one_by_one[1].hash()  # a 1×1 kernel has no dilation
    assert default_genotype(2).hash() == default_genotype(2).hash()


def _genotype_dict(**changes) -> dict:
    data = default_genotype(2).to_dict()
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], "a genotype is a JSON object"),
        (_genotype_dict(colour="red"), "unknown key 'colour'"),
        ({"depth": 2, "cells": [Cell().__dict__]}, "missing key 'connections'"),
        (_genotype_dict(depth=0), "depth=0 must be an integer in"),
        (_genotype_dict(cells=[]), r"cells must be a list of 1 \(shared\) or depth=2"),
        (_genotype_dict(cells=[{**Cell().__dict__, "kernel": 4}]), r"cells\[0\].kernel=4 is not one of 1, 3, 5, 7"),
        (_genotype_dict(cells=[{**Cell().__dict__, "upsample": "magic"}]), r"cells\[0\].upsample='magic'"),
        (_genotype_dict(cells=[{**Cell().__dict__, "dilation": True}]), r"cells\[0\].dilation=True"),
        (_genotype_dict(cells=[{"upsample": "nearest"}]), r"cells\[0\]: missing key 'transform'"),
        (_genotype_dict(connections=[[0]]), "connections must be a list of depth=2 lists"),
        (_genotype_dict(connections=[[0], [2]]), r"connections\[1\] holds 2; encoder levels are integers in \[0, 1\]"),
        (_genotype_dict(connections=[[0, 0], []]), r"connections\[0\] names an encoder level twice"),
    ],
)
def test_bad_genotypes_name_the_key(data, message):
    with pytest.raises(InputError, match=message) as raised:
        Genotype.from_dict(data, "arch.json")
    assert str(raised.value).startswith("arch.json")


def test_bad_genotype_files(tmp_path: Path):
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(InputError, match=r"broken\.json: not valid JSON"):
        read_genotype(tmp_path / "broken.json")
    with pytest.raises(InputError, match="no such genotype file"):
        read_genotype(tmp_path / "missing.json")


def _all_sequences(sizes):
    return [list(s) for s in np.ndindex(*sizes)]


def test_controller_log_probabilities_form_a_distribution():
    controller = Controller([2, 3, 2], hidden=8, seed=1)
    sequences = _all_sequences((2, 3, 2))
    log_prob, entropy = controller.log_prob(sequences)
    assert torch.exp(log_prob).sum().item() == pytest.approx(1.0, abs=1e-5)
    assert (entropy > 0).all() and (entropy <= np.log(2) * 2 + np.log(3) + 1e-5).all()
    drawn = controller.sample(200, torch.Generator().manual_seed(0))
    assert drawn == controller.sample(200, torch.Generator().manual_seed(0))  # seeded proposals
    # Sampling frequencies follow the policy's probabilities.
    counts = np.bincount([np.ravel_multi_index(s, (2, 3, 2)) for s in drawn], minlength=12) / 200
    assert np.abs(counts - torch.exp(log_prob).detach().numpy()).max() < 0.12


def test_reinforce_moves_probability_toward_the_rewarded_choice():
    controller = Controller([4, 3], hidden=16, seed=0)
    trainer = Reinforce(controller, lr=0.05, baseline_decay=0.9, entropy_weight=0.0)
    rewarded = [s for s in _all_sequences((4, 3)) if s[0] == 2]

    def p_rewarded() -> float:
        return torch.exp(controller.log_prob(rewarded)[0]).sum().item()

    before = p_rewarded()
    generator = torch.Generator().manual_seed(0)
    first = None
    for _ in range(25):
        choices = controller.sample(8, generator)
        rewards = [1.0 if c[0] == 2 else 0.0 for c in choices]
        metrics = trainer.update(choices, rewards)
        first = np.mean(rewards) if first is None else first
    assert before == pytest.approx(0.25, abs=0.1) and p_rewarded() > 0.8
    # The baseline is an exponential moving average of the batches' mean rewards.
    assert 0 < metrics["baseline"] < 1 and trainer.baseline == metrics["baseline"]
    # With no reward signal, the entropy bonus alone spreads the policy out again.
    peaked = controller.log_prob(rewarded)[1].mean().item()
    bonus = Reinforce(controller, lr=0.05, entropy_weight=1.0)
    for _ in range(10):
        bonus.update(rewarded, [0.0] * len(rewarded))
    assert controller.log_prob(rewarded)[1].mean().item() > peaked


def test_strategies_share_one_interface():
    for name in ("rl", "random"):
        strategy = make_strategy(name, depth=2, shared=False, seed=5)
        first = [g.hash() for g in strategy.propose(0, 4)]
        assert first == [g.hash() for g in strategy.propose(0, 4)]  # same step, same proposals
        assert first != [g.hash() for g in strategy.propose(1, 4)]
        strategy.update(strategy.propose(0, 4), [1.0, 2.0, 3.0, 4.0])
        clone = make_strategy(name, depth=2, shared=False, seed=5)
        clone.load_state_dict(strategy.state_dict())
        assert [g.hash() for g in clone.propose(2, 3)] == [g.hash() for g in strategy.propose(2, 3)]
    with pytest.raises(InputError, match="unknown search strategy"):
        make_strategy("evolution", 2, False)


def test_masked_loss_ignores_held_out_pixels_and_self_validation_scores_them():
    image = smooth_image(16, 16, 1)
    held = holdout_mask(16, 16, 0.25, seed=0)
    garbage = image.copy()
    garbage[held] = 1.0  # what the held-out pixels hold must not change the fit

    def run(target):
        torch.manual_seed(0)
        net = build_network(default_genotype(2), 32, 1, finest=4, width=4)
        rule = SelfValidation(to_tensor(target), held)
        return fit(net, target, iterations=5, rule=rule)[1]  # the rule keeps held-out pixels out of the loss

    clean_run, garbage_run = run(image), run(garbage)
    assert clean_run.loss == garbage_run.loss
    last = clean_run.images["last"]
    assert clean_run.criterion[-1] == pytest.approx(float(np.mean((last - image)[held] ** 2)), rel=1e-4)
    assert garbage_run.criterion[-1] > clean_run.criterion[-1]


def _count_evaluations(monkeypatch) -> list[str]:
    """Record the hash of every candidate fitted in this process."""
    seen = []
    original = scoring.score_candidate

    def counting(genotype, task):
        seen.append(Genotype.from_dict(genotype).hash())
        return original(genotype, task)

    monkeypatch.setattr(scoring, "score_candidate", counting)
    return seen


def test_score_genotype_reproduces_a_logged_reward(tmp_path: Path, clean_file: Path):
    options = {"images": [clean_file], "sigma": 25, "trials": 2, "per_step": 2, "strategy": "random", **TINY}
    run_search(tmp_path / "search", **options)
    logged = read_log(tmp_path / "search" / "log.jsonl")[0]
    again = score_genotype(tmp_path / "search", Genotype.from_dict(logged["genotype"]))
    assert again["reward"] == pytest.approx(logged["reward"], abs=1e-6)
    with pytest.raises(InputError, match="no search here"):
        score_genotype(tmp_path, default_genotype(2))


def test_resume_after_a_kill_evaluates_nothing_twice(tmp_path: Path, clean_file: Path, monkeypatch):
    options = {"images": [clean_file], "sigma": 25, "trials": 7, "per_step": 3, "strategy": "rl", **TINY}
    seen = _count_evaluations(monkeypatch)
    reference = run_search(tmp_path / "whole", **options)
    assert reference.evaluated == len(seen) == len(set(seen)) and not reference.stopped
    seen.clear()

    # Killed after the 5th trial: step 0 is checkpointed, step 1 is half logged.
    def stop_after_five(done: int, total: int, metrics: dict) -> bool:
        return done < 5

    first = run_search(tmp_path / "killed", progress=stop_after_five, **options)
    assert first.stopped and first.trials == 5 and (tmp_path / "killed" / "controller.pt").exists()
    logged = {r["hash"] for r in read_log(tmp_path / "killed" / "log.jsonl")}
    assert set(seen) == logged
    with open(tmp_path / "killed" / "log.jsonl", "a") as handle:
        handle.write('{"trial": 5, "step": 1, "ind')  # a record torn by the kill
    seen.clear()

    second = run_search(tmp_path / "killed", **options)
    assert second.resumed == 5 and second.trials == 7 and not second.stopped
    assert not set(seen) & logged and second.evaluated == len(seen)
    records = read_log(tmp_path / "killed" / "log.jsonl")
    assert [r["trial"] for r in records] == list(range(7))
    # Resumed, the search is exactly the uninterrupted one: same proposals, same rewards.
    whole = read_log(tmp_path / "whole" / "log.jsonl")
    assert [(r["hash"], r["reward"]) for r in records] == [(r["hash"], r["reward"]) for r in whole]
    seen.clear()
    assert run_search(tmp_path / "killed", **options).evaluated == 0 and not seen
    # A longer budget continues from the checkpoint.
    longer = run_search(tmp_path / "killed", **{**options, "trials": 9})
    assert longer.trials == 9 and longer.evaluated == len(seen) <= 2
    best = json.loads((tmp_path / "killed" / "best_arch.json").read_text())
    assert best["info"]["reward"] == max(r["reward"] for r in read_log(tmp_path / "killed" / "log.jsonl"))
    assert best["info"]["reward_kind"] == "psnr"


def test_resume_refuses_other_settings(tmp_path: Path, clean_file: Path):
    run_search(tmp_path, images=[clean_file], sigma=25, trials=1, strategy="random", **TINY)
    with pytest.raises(InputError, match="iterations=2, not 3"):
        run_search(tmp_path, images=[clean_file], sigma=25, trials=2, strategy="random", **{**TINY, "iterations": 3})


def test_no_reference_search_on_a_noisy_image(tmp_path: Path):
    noisy = dk.add_noise(smooth_image(20, 20, 3), sigma=25, seed=0)
    io.write_image(tmp_path / "noisy.png", noisy)
    result = run_search(tmp_path / "out", noisy=tmp_path / "noisy.png", trials=2, strategy="random", **TINY)
    assert result.reward == "self-validation"
    settings = json.loads((tmp_path / "out" / "search.json").read_text())
    assert settings["reward"] == "self-validation" and settings["holdout"] == 0.2
    assert "self-validation" in (tmp_path / "out" / "top.md").read_text()
    # Held-out MSE includes the noise: the reward sits below 10·log10(1/σ²) ≈ 20.2 dB.
    records = read_log(tmp_path / "out" / "log.jsonl")
    assert all(0 < r["reward"] < 20.5 and r["reward_kind"] == "self-validation" for r in records)


def test_local_worker_processes_run_a_search(tmp_path: Path, clean_file: Path):
    result = run_search(tmp_path, images=[clean_file], sigma=25, trials=2, per_step=2, workers=2, **TINY)
    assert result.evaluated == 2 and len(read_log(tmp_path / "log.jsonl")) == 2


def test_ray_runs_a_tiny_search(tmp_path: Path, clean_file: Path):
    pytest.importorskip("ray", reason="ray is not installed (pip install 'denoisekit[ray]')")
    result = run_search(tmp_path, images=[clean_file], sigma=25, trials=2, per_step=2, ray="local", workers=2, **TINY)
    assert result.evaluated == 2 and all(r["seconds"] > 0 for r in read_log(tmp_path / "log.jsonl"))


def test_ray_missing_is_a_clear_error(tmp_path: Path, clean_file: Path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    with pytest.raises(InputError, match=r"needs the ray package"):
        run_search(tmp_path, images=[clean_file], sigma=25, trials=1, ray="auto", **TINY)


def test_cli_search_then_denoise_with_the_searched_network(tmp_path: Path, clean_file: Path, capsys):
    out = tmp_path / "search"
    command = ["--threads", "1", "search", "--image", str(clean_file), "--sigma", "25", "--trials", "2"]
    command += ["--iterations", "3", "--size", "24", "--depth", "2", "--width", "8", "--device", "cpu"]
    assert main([*command, "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "reward: psnr" in printed.out and "best: trial" in printed.out
    assert {"best_arch.json", "log.jsonl", "rewards.png", "top.md", "controller.pt", "search.json"} <= {
        p.name for p in out.iterdir()
    }
    assert (out / "top.md").read_text().count("\n| ") == 2 + 1  # header and two architectures
    assert main([*command, "--out", str(out)]) == 0  # rerun: resumes, evaluates nothing
    printed = capsys.readouterr()
    assert "resuming the search" in printed.err and "0 evaluated in this run" in printed.out

    noisy = tmp_path / "noisy.png"
    io.write_image(noisy, dk.add_noise(io.read_image(clean_file)[0], sigma=25, seed=3))
    denoise = ["denoise", str(noisy), "-o", str(tmp_path / "out.png"), "-m", "nas-dip", "--sigma", "25"]
    denoise += ["--arch", str(out / "best_arch.json"), "--iterations", "3", "--device", "cpu", "-p", "width=8"]
    assert main(denoise) == 0 and (tmp_path / "out.png").exists()
    assert "method=nas-dip" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--image", "missing.png", "--sigma", "25"], "no such image"),
        (["--image", "{clean}", "--sigma", "1000"], "sigma=1000.0 is out of range"),
        (["--image", "{clean}"], "need a noise level"),
        (["--noisy", "{clean}", "--sigma", "25"], "a noisy image keeps its own noise"),
        (["--image", "{clean}", "--sigma", "25", "--trials", "0"], "trials=0"),
        (["--image", "{clean}", "--sigma", "25", "--strategy", "evolution"], "invalid choice: 'evolution'"),
        (["--image", "{clean}", "--noisy", "{clean}", "--sigma", "25"], "not allowed with argument"),
        (["--image", "{clean}", "--sigma", "25", "--workers", "0"], "--workers 0"),
    ],
)
def test_cli_search_errors(tmp_path: Path, clean_file: Path, capsys, arguments, message):
    arguments = [a.replace("{clean}", str(clean_file)) for a in arguments]
    defaults = {"--trials": "1", "--iterations": "1"}
    for option, value in defaults.items():
        if option not in arguments:
            arguments += [option, value]
    assert _exit_code(["search", *arguments, "--out", str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out" / "log.jsonl").exists()


def _exit_code(argv: list[str]) -> int:
    """``main``'s status, whether it returns it or argparse exits with it (usage errors)."""
    try:
        return main(argv)
    except SystemExit as stop:
        return stop.code


def test_nas_dip_method(tmp_path: Path, capsys):
    assert "nas-dip" in dk.list_methods(family="zero-shot")
    from denoisekit.web.app import settable

    assert not settable(dk.get_method("nas-dip").params[0])  # a file path: never set from the web page
    noisy = dk.add_noise(smooth_image(13, 11, 1), sigma=25, seed=0)
    genotype = json.dumps(sample_random(np.random.default_rng(0), 2, True).to_dict())
    out = dk.denoise(noisy, "nas-dip", 25, device="cpu", arch=genotype, iterations=2, width=4)
    assert out.shape == noisy.shape
    assert dk.denoise(noisy, "nas-dip", 25, device="cpu", iterations=2, width=4).shape == noisy.shape  # default net
    (tmp_path / "bad.json").write_text(json.dumps(_genotype_dict(cells=[{**Cell().__dict__, "activation": "gelu"}])))
    io.write_image(tmp_path / "n.png", noisy)
    command = ["denoise", str(tmp_path / "n.png"), "-o", str(tmp_path / "o.png"), "-m", "nas-dip", "--sigma", "25"]
    assert main([*command, "--arch", str(tmp_path / "bad.json"), "--iterations", "1", "--device", "cpu"]) == 2
    assert "bad.json: cells[0].activation='gelu' is not one of none, relu, leaky-relu" in capsys.readouterr().err
    with pytest.raises(InputError, match="has no parameter 'arch'"):
        dk.denoise(noisy, "dip", 25, device="cpu", arch=genotype, iterations=1)
