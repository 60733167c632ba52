"""The ``denoisekit`` command: a thin face over :mod:`denoisekit.api`.

Every user mistake ends as one line on stderr and exit status 2; results go to stdout,
progress bars to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from tqdm import tqdm

from denoisekit import api, io
from denoisekit.errors import Cancelled, InputError
from denoisekit.estimate import ESTIMATORS, estimate_sigma
from denoisekit.metrics import mse, psnr, ssim
from denoisekit.noise import NOISE_MODELS, add_noise
from denoisekit.parallel import limit_threads
from denoisekit.registry import Progress, get_method, list_methods, resolve_alias
from denoisekit.training import METHODS


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line, like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"denoisekit: error: {message} (see '{self.prog} --help')\n")


def progress_bar(description: str, unit: str = "it") -> tuple[Progress, tqdm]:
    """A :data:`Progress` callback drawing a tqdm bar on stderr (hidden when not a terminal)."""
    bar = tqdm(desc=description, unit=unit, file=sys.stderr, disable=not sys.stderr.isatty(), leave=False)

    def update(step: int, total: int, metrics: dict) -> bool:
        bar.total = total
        bar.n = step
        shown = {k: f"{v:.3g}" for k, v in metrics.items() if isinstance(v, float)}
        bar.set_postfix(shown, refresh=False)
        bar.refresh()
        return True

    return update, bar


def _params(pairs: Sequence[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise InputError(f"--param {pair!r} must look like NAME=VALUE")
        params[name] = value
    return params


def cmd_denoise(args: argparse.Namespace) -> int:
    method = api.resolve_method(args.method, args.weights)
    sources = api.expand_inputs(args.inputs)
    show_bar = len(sources) > 1
    bar = tqdm(total=len(sources), unit="image", file=sys.stderr, disable=not (show_bar and sys.stderr.isatty()))

    def report(result: api.DenoiseReport) -> None:
        (sys.stderr if result.error else sys.stdout).write(result.summary() + "\n")
        bar.update(1)

    params = _params(args.param)
    if args.iterations is not None:
        params["iterations"] = args.iterations
    if args.arch is not None:
        params["arch"] = args.arch
    # One file: a bar per iteration of long fits (a batch shows a bar per image instead).
    fit_progress, fit_bar = progress_bar(method.name) if len(sources) == 1 else (None, None)
    reports = api.denoise_files(
        sources,
        args.output,
        method.name,
        args.sigma,
        workers=args.workers,
        overwrite=args.overwrite,
        reference=args.reference,
        tile=args.tile,
        overlap=args.overlap,
        device=args.device,
        weights=args.weights,
        on_report=report,
        figures=args.figures,
        progress=fit_progress,
        **params,
    )
    bar.close()
    if fit_bar is not None:
        fit_bar.close()
    failed = [r for r in reports if r.error]
    if failed:
        print(f"denoisekit: error: {len(failed)} of {len(reports)} images failed", file=sys.stderr)
        return 2
    return 0


def cmd_noise(args: argparse.Namespace) -> int:
    image, info = io.read_image(args.input)
    levels = {k: getattr(args, k) for k in ("sigma", "peak", "amount") if getattr(args, k) is not None}
    noisy = add_noise(image, args.model, seed=args.seed, **levels)
    written = io.write_image(args.output, noisy, info, overwrite=args.overwrite)
    print(f"{args.input} -> {written}  noise={args.model} {levels} seed={args.seed}")
    return 0


def cmd_metrics(args: argparse.Namespace) -> int:
    reference, _ = io.read_image(args.reference)
    image, _ = io.read_image(args.image)
    values = {"psnr": psnr(reference, image), "ssim": ssim(reference, image), "mse": mse(reference, image)}
    if args.json:
        print(json.dumps(values))
    else:
        print(f"PSNR {values['psnr']:.2f} dB  SSIM {values['ssim']:.4f}  MSE {values['mse']:.6f}")
    return 0


def cmd_estimate(args: argparse.Namespace) -> int:
    for path in api.expand_inputs(args.inputs):
        image, _ = io.read_image(path)
        print(f"{path}  sigma={estimate_sigma(image, args.estimator):.2f}  (0–255 scale, {args.estimator})")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from denoisekit.bench import mean_table, run_benchmark

    update, bar = progress_bar("bench", unit="run")
    records = run_benchmark(
        args.data,
        args.sigma,
        args.methods,
        args.out,
        seed=args.seed,
        blind=args.blind,
        protocol=args.protocol,
        workers=args.workers,
        limit=args.limit,
        weights=dict(_labelled(item) for item in args.weights),
        progress=update,
    )
    bar.close()
    print(mean_table(records))
    print(f"results: {Path(args.out) / 'results.json'}")
    return 0


def _labelled(item: str) -> tuple[str, str]:
    """``LABEL=FILE`` → (LABEL, FILE); a bare ``FILE`` is labelled by its name without suffix."""
    label, sep, path = item.partition("=")
    return (label, path) if sep else (Path(item).stem, item)


def _config_value(text: str) -> object:
    """``3`` → 3, ``0.5`` → 0.5, ``true`` → True, ``32,64`` → [32, 64], anything else a string."""
    if "," in text:
        return [_config_value(part) for part in text.split(",") if part]
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def cmd_train(args: argparse.Namespace) -> int:
    from denoisekit.training.recipes import train

    model_config = {name: _config_value(value) for name, value in _params(args.model_config).items()}
    levels = {k: getattr(args, k) for k in ("peak", "amount") if getattr(args, k) is not None}
    bar = tqdm(desc="train", unit="step", file=sys.stderr, disable=not sys.stderr.isatty())
    last_val = [None]

    def progress(step: int, total: int, metrics: dict) -> bool:
        bar.total, bar.n = total, step
        bar.set_postfix({k: f"{v:.4g}" for k, v in metrics.items()}, refresh=False)
        bar.refresh()
        if bar.disable and metrics.get("val_psnr") != last_val[0]:  # no terminal: a line per validation
            last_val[0] = metrics.get("val_psnr")
            print(f"step {step}/{total}  loss {metrics['loss']:.5g}  val PSNR {last_val[0]:.2f} dB", file=sys.stderr)
        return True

    result = train(
        args.data,
        args.out,
        method=args.method,
        model=args.model,
        model_config=model_config,
        init=args.init,
        clean_pairs=args.clean_pairs,
        pair_data=args.pair_data,
        pair_pattern=args.pair_pattern,
        synthetic=args.synthetic,
        sigma=args.sigma,
        noise=args.noise,
        noise_levels=levels,
        unclipped=args.unclipped,
        loss=args.loss,
        mask_fraction=args.mask_fraction,
        gamma=args.gamma,
        val=args.val,
        val_split=args.val_split,
        val_sigma=args.val_sigma,
        device=api.resolve_device(args.device),
        resume=args.resume,
        overwrite=args.overwrite,
        progress=progress,
        steps=args.steps,
        batch_size=args.batch_size,
        patch_size=args.patch_size,
        lr=args.lr,
        optimizer=args.optimizer,
        momentum=args.momentum,
        lbfgs_steps=args.lbfgs_steps,
        schedule=args.schedule,
        warmup=args.warmup,
        seed=args.seed,
        val_every=args.val_every,
        checkpoint_every=args.checkpoint_every,
    )
    bar.close()
    best = "" if result.best_psnr is None else f"  best val PSNR {result.best_psnr:.2f} dB at step {result.best_step}"
    print(f"{result.weights}  step {result.step}  {result.seconds / 60:.1f} min{best}")
    if result.interrupted:
        print(f"denoisekit: stopped at step {result.step}; checkpoint saved; continue with --resume", file=sys.stderr)
        return 130
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from denoisekit.search.runner import logged_trials, run_search

    if logged := logged_trials(args.out):
        print(f"denoisekit: resuming the search in {args.out} ({logged} trials logged)", file=sys.stderr)
    update, bar = progress_bar("search", unit="trial")

    def progress(step: int, total: int, metrics: dict) -> bool:
        update(step, total, metrics)
        if bar.disable:  # no terminal: a line per trial
            print(f"trial {step}/{total}  reward {metrics['reward']:.3f}  best {metrics['best']:.3f}", file=sys.stderr)
        return True

    try:
        result = run_search(
            args.out,
            images=args.image,
            sigma=args.sigma,
            noisy=args.noisy,
            trials=args.trials,
            iterations=args.iterations,
            size=args.size,
            proxy=args.proxy,
            strategy=args.strategy,
            workers=args.workers,
            ray=args.ray,
            per_step=args.per_step,
            depth=args.depth,
            shared=args.shared,
            finest=args.finest,
            width=args.width,
            lr=args.lr,
            seed=args.seed,
            holdout=args.holdout,
            device=api.resolve_device(args.device),
            top=args.top,
            progress=progress,
        )
    except KeyboardInterrupt:
        print(f"denoisekit: search stopped; rerun the same command to resume from {args.out}", file=sys.stderr)
        return 130
    finally:
        bar.close()
    print(f"reward: {result.reward}\n{result.summary()}")
    return 0


def cmd_methods(args: argparse.Namespace) -> int:
    default = resolve_alias("default")
    for name in list_methods():
        spec = get_method(name)
        status = spec.unavailable()
        flag = " (default)" if name == default else ""
        print(f"{name}{flag}  [{spec.family}]  {spec.summary}" + (f"  -- unavailable: {status}" if status else ""))
        for param in spec.params:
            print(f"    {param.name} ({param.type.__name__}, default {param.default}): {param.help}")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    print(api.sample_image(args.name))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from denoisekit.web import WebConfig, serve  # the server's packages load only for this command

    config = WebConfig(
        max_upload_bytes=int(args.max_upload_mb * 2**20),
        max_pixels=args.max_pixels,
        result_ttl=args.result_ttl,
        max_jobs=args.max_jobs,
    )
    serve(args.host, args.port, config)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="denoisekit", description="Remove noise from images, and measure how well it worked.")
    parser.add_argument("--threads", type=int, help="cap the CPU threads numerical libraries use")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = commands.add_parser("denoise", help="denoise images (the main job)")
    p.add_argument("inputs", nargs="+", metavar="IN", help="image files, globs or folders")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output file, or folder for several inputs")
    p.add_argument(
        "-m", "--method", default="default", help="a method from 'denoisekit methods' (default: %(default)s)"
    )
    p.add_argument("-s", "--sigma", type=float, help="noise level on the 0–255 scale (default: estimated)")
    p.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE", help="a method parameter")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: %(default)s)")
    p.add_argument("--tile", type=int, help="process in tiles of this side (default: only when memory requires)")
    p.add_argument("--overlap", type=int, default=32, help="tile overlap in pixels (default: %(default)s)")
    p.add_argument("--workers", type=int, default=1, help="images processed in parallel (default: %(default)s)")
    p.add_argument("--reference", help="clean image (or folder of them, same names) to report PSNR/SSIM")
    p.add_argument("--weights", metavar="FILE", help="weights written by 'denoisekit train' (default: shipped ones)")
    p.add_argument("--iterations", type=int, metavar="N", help="iteration budget of a zero-shot fit (-p iterations=N)")
    p.add_argument("--figures", metavar="DIR", help="save spectra, crops and a zero-shot fit's curves in DIR")
    p.add_argument("--arch", metavar="JSON", help="nas-dip: genotype written by 'denoisekit search' (-p arch=JSON)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.set_defaults(run=cmd_denoise)

    p = commands.add_parser("noise", help="add synthetic noise to an image (to make test pairs)")
    p.add_argument("input", metavar="IN")
    p.add_argument("-o", "--output", required=True, metavar="OUT")
    p.add_argument("--model", default="gaussian", choices=list(NOISE_MODELS))
    p.add_argument("--sigma", type=float, help="Gaussian/speckle level on the 0–255 scale")
    p.add_argument("--peak", type=float, help="Poisson photons for a white pixel")
    p.add_argument("--amount", type=float, help="salt-and-pepper fraction of pixels")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(run=cmd_noise)

    p = commands.add_parser("metrics", help="PSNR, SSIM and MSE of an image against a clean reference")
    p.add_argument("reference", metavar="REFERENCE")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("--json", action="store_true", help="print a JSON object")
    p.set_defaults(run=cmd_metrics)

    p = commands.add_parser("estimate", help="estimate the noise level of images")
    p.add_argument("inputs", nargs="+", metavar="IN")
    p.add_argument("--estimator", default=ESTIMATORS[0], choices=ESTIMATORS)
    p.set_defaults(run=cmd_estimate)

    p = commands.add_parser("bench", help="benchmark methods on folders of clean images")
    p.add_argument("--data", nargs="+", required=True, metavar="DIR", help="folders of clean images")
    p.add_argument("--sigma", nargs="+", type=float, default=[15, 25, 50])
    p.add_argument("--methods", nargs="+", default=[], metavar="M", help="registered method names")
    p.add_argument(
        "--weights",
        nargs="+",
        default=[],
        metavar="[LABEL=]FILE",
        help="weights written by 'denoisekit train', each benchmarked under its label",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="results folder (reruns resume in it)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--blind", action="store_true", help="methods estimate sigma instead of being told")
    p.add_argument(
        "--protocol",
        default="clipped",
        choices=["clipped", "unclipped"],
        help="clipped: noisy 8-bit files (default); unclipped: float noise, as the published tables",
    )
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--limit", type=int, help="only the first N images of each folder (timing runs)")
    p.set_defaults(run=cmd_bench)

    p = commands.add_parser("train", help="train a denoising network (checkpoints, resume, validation)")
    p.add_argument(
        "--method",
        default="supervised",
        choices=METHODS,
        help="supervised (clean data) or, from noisy images only: n2n, n2v, blindspot, ne2ne",
    )
    p.add_argument("--model", help="a model name (default: unet; blindspot for --method blindspot)")
    p.add_argument("--model-config", action="append", default=[], metavar="NAME=VALUE", help="a model keyword")
    p.add_argument(
        "--init",
        metavar="WEIGHTS",
        help="fine-tune: start from these weights, or 'shipped' for the package's weights of --model "
        "(with --model-config widths=...: grown wider, the new channels starting silent)",
    )
    p.add_argument(
        "--data",
        required=True,
        metavar="DIR",
        help="folder of images, one large image, or MNIST idx file (noisy ones for n2n/n2v/blindspot/ne2ne)",
    )
    p.add_argument("--clean-pairs", metavar="DIR", help="supervised: clean images named as the noisy ones in --data")
    p.add_argument("--pair-data", metavar="DIR", help="n2n: second noisy shots named as the images in --data")
    p.add_argument(
        "--pair-pattern",
        metavar="REGEX",
        help="n2n: shots of one scene inside --data share this pattern's first group, e.g. '(.+)_\\d+'",
    )
    p.add_argument(
        "--synthetic",
        action="store_true",
        help="self-supervised methods on clean --data: noisy versions are drawn (benchmarks)",
    )
    p.add_argument(
        "--sigma",
        help="synthetic noise level, fixed (default 25) or a range for blind models (0-55); "
        "blindspot with posterior=true on noisy data: their noise level (default: estimated)",
    )
    p.add_argument("--noise", default="gaussian", choices=list(NOISE_MODELS), help="synthetic noise model")
    p.add_argument("--peak", type=float, help="Poisson photons for a white pixel")
    p.add_argument("--amount", type=float, help="salt-and-pepper fraction of pixels")
    p.add_argument(
        "--unclipped",
        type=float,
        default=0.0,
        help="share of training patches with float noise, not clipped to 8 bits (published tables' protocol)",
    )
    p.add_argument("--mask-fraction", type=float, default=0.01, help="n2v: share of pixels masked (default 1%%)")
    p.add_argument("--gamma", type=float, default=2.0, help="ne2ne: regulariser weight (default: %(default)s)")
    p.add_argument("--loss", default="mse", help="mse (default), l1, or bce for models ending in a sigmoid (cae)")
    p.add_argument("--steps", type=int, default=1000, help="total optimizer steps (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--patch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate (default: %(default)s)")
    p.add_argument("--optimizer", default="adam", choices=["sgd", "momentum", "nesterov", "adam", "lbfgs", "hybrid"])
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--lbfgs-steps", type=int, default=10, help="hybrid: L-BFGS steps before momentum")
    p.add_argument("--schedule", default="cosine", choices=["constant", "cosine", "step"])
    p.add_argument("--warmup", type=int, default=0, help="linear warm-up steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val", metavar="DIR", help="validation images (default: hold out --val-split of --data)")
    p.add_argument("--val-split", type=int, help="clean images held out for validation (default 8; 0: none)")
    p.add_argument("--val-sigma", type=float, help="validation noise level (default: middle of --sigma)")
    p.add_argument("--val-every", type=int, default=500)
    p.add_argument("--checkpoint-every", type=int, default=200)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: %(default)s)")
    p.add_argument("--resume", action="store_true", help="continue from OUT's checkpoint up to --steps")
    p.add_argument("--overwrite", action="store_true", help="start afresh over existing OUT")
    p.add_argument("--out", required=True, metavar="WEIGHTS", help="weights file to write (.pt)")
    p.set_defaults(run=cmd_train)

    p = commands.add_parser("search", help="NAS-DIP: search DIP decoder architectures (RL controller or random)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--image", nargs="+", metavar="CLEAN", help="clean search images: reward = PSNR (with --sigma)")
    source.add_argument("--noisy", metavar="IMAGE", help="a real noisy image: reward = self-validation (no reference)")
    p.add_argument("--sigma", type=float, help="noise added to the clean images, 0–255 scale")
    p.add_argument("--trials", type=int, required=True, help="candidates to propose (a rerun with more continues)")
    p.add_argument("--iterations", type=int, required=True, help="DIP iterations per candidate (proxy budget)")
    p.add_argument("--size", type=int, default=64, help="proxy image side in pixels (default: %(default)s)")
    p.add_argument("--proxy", default="crop", choices=["crop", "downscale"], help="how images get to --size")
    p.add_argument("--strategy", default="rl", choices=["rl", "random"], help="LSTM controller or random search")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=1, help="local worker processes (default: %(default)s)")
    where.add_argument("--ray", metavar="ADDRESS", help="evaluate on a Ray cluster (auto, ray://HOST:PORT; local)")
    p.add_argument("--per-step", type=int, default=4, help="candidates per controller step (default: %(default)s)")
    p.add_argument("--depth", type=int, default=5, help="levels of the networks (default: %(default)s)")
    p.add_argument("--shared", action="store_true", help="one cell for all decoder levels (default: one each)")
    p.add_argument("--finest", type=int, default=8, help="proxy channels at the finest level (default: %(default)s)")
    p.add_argument("--width", type=int, default=64, help="proxy channels at coarser levels (default: %(default)s)")
    p.add_argument("--lr", type=float, default=0.01, help="DIP's Adam learning rate (default: %(default)s)")
    p.add_argument("--holdout", type=float, default=0.2, help="--noisy: fraction of held-out pixels")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: %(default)s)")
    p.add_argument("--top", type=int, default=10, help="rows of top.md (default: %(default)s)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder; an existing search in it resumes")
    p.set_defaults(run=cmd_search)

    p = commands.add_parser("methods", help="list the denoising methods and their parameters")
    p.set_defaults(run=cmd_methods)

    p = commands.add_parser("sample", help="print the path of a sample image shipped by scikit-image")
    p.add_argument("name", help="for example camera, astronaut, coffee")
    p.set_defaults(run=cmd_sample)

    p = commands.add_parser("serve", help="serve the web page and its JSON API")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default: %(default)s)")
    p.add_argument("--max-upload-mb", type=float, default=100, help="largest request, MiB (default: %(default)s)")
    p.add_argument("--max-pixels", type=int, default=25_000_000, help="largest image (default: %(default)s)")
    p.add_argument("--result-ttl", type=float, default=1800, help="seconds results are kept (default: %(default)s)")
    p.add_argument("--max-jobs", type=int, default=4, help="long jobs queued or running (default: %(default)s)")
    p.set_defaults(run=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.threads is not None:
            if args.threads < 1:
                raise InputError(f"--threads {args.threads}: must be at least 1")
            limit_threads(args.threads)
        if getattr(args, "workers", 1) < 1:
            raise InputError(f"--workers {args.workers}: must be at least 1")
        return args.run(args)
    except InputError as error:
        print(f"denoisekit: error: {error}", file=sys.stderr)
        return 2
    except (Cancelled, KeyboardInterrupt):
        print("denoisekit: stopped", file=sys.stderr)
        return 130
