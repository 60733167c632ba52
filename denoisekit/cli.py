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
    method = get_method(args.method)
    sources = api.expand_inputs(args.inputs)
    show_bar = len(sources) > 1
    bar = tqdm(total=len(sources), unit="image", file=sys.stderr, disable=not (show_bar and sys.stderr.isatty()))

    def report(result: api.DenoiseReport) -> None:
        (sys.stderr if result.error else sys.stdout).write(result.summary() + "\n")
        bar.update(1)

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
        on_report=report,
        **_params(args.param),
    )
    bar.close()
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
        progress=update,
    )
    bar.close()
    print(mean_table(records))
    print(f"results: {Path(args.out) / 'results.json'}")
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
    p.add_argument("--methods", nargs="+", required=True, metavar="M")
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
    p.set_defaults(run=cmd_bench)

    p = commands.add_parser("methods", help="list the denoising methods and their parameters")
    p.set_defaults(run=cmd_methods)

    p = commands.add_parser("sample", help="print the path of a sample image shipped by scikit-image")
    p.add_argument("name", help="for example camera, astronaut, coffee")
    p.set_defaults(run=cmd_sample)
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
