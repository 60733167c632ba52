"""The Python API; the CLI and the web page are thin faces over these functions.

>>> import numpy as np, denoisekit
>>> noisy = denoisekit.add_noise(np.full((32, 32), 0.5), sigma=25, seed=0)
>>> clean = denoisekit.denoise(noisy, method="median", sigma=25)
>>> clean.shape, clean.dtype
((32, 32, 1), dtype('float32'))
"""

from __future__ import annotations

import glob
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from denoisekit import io
from denoisekit.errors import InputError
from denoisekit.estimate import estimate_sigma
from denoisekit.metrics import psnr, ssim
from denoisekit.noise import quantize_to_bits
from denoisekit.parallel import parallel_map
from denoisekit.registry import MethodSpec, Progress, get_method
from denoisekit.tiling import available_memory, tiled
from denoisekit.validation import check_image, check_sigma
from denoisekit.zeroshot.history import RunHistory

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str = "auto") -> str:
    """``auto`` → ``cuda`` when a GPU is present, else ``cpu``; asking for a missing GPU is an error."""
    if device not in DEVICES and not device.startswith("cuda:"):
        raise InputError(f"unknown device {device!r}; choose auto, cpu, cuda or cuda:N")
    if device == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda" if device == "auto" else device
    if device == "auto":
        return "cpu"
    raise InputError(f"device {device!r} was asked for, but no CUDA GPU is available here")


def _usable(spec: MethodSpec, channels: int) -> None:
    reason = spec.unavailable()
    if reason:
        raise InputError(f"method {spec.name!r} is not available: {reason}")
    if channels not in spec.channels:
        raise InputError(f"method {spec.name!r} does not handle {channels}-channel images")


def resolve_method(method: str, weights: str | os.PathLike | None = None) -> MethodSpec:
    """The spec for ``method``; with a weights file and no explicit method, the file's model."""
    if weights is None:
        return get_method(method)
    from denoisekit.models.weights import read_header

    if method == "default":
        method = read_header(weights)["model"]
    spec = get_method(method)
    if not spec.uses_weights:
        raise InputError(f"method {spec.name!r} takes no weights file")
    return spec


def _auto_tile(spec: MethodSpec, image: np.ndarray) -> int | None:
    """A tile side that fits in half the free memory, or None when the whole image fits."""
    budget = available_memory() / 2
    per_pixel = spec.bytes_per_pixel * image.shape[2]
    if image.shape[0] * image.shape[1] * per_pixel <= budget:
        return None
    return max(256, int((budget / per_pixel) ** 0.5) // 64 * 64)


def _fit_extras(
    spec: MethodSpec, image: np.ndarray, reference: np.ndarray | None, history: RunHistory | None
) -> dict[str, Any]:
    """``reference=`` and ``history=`` for the methods that take them (whole images only, never tiles)."""
    if not spec.uses_reference:
        return {}
    if reference is not None:
        reference = check_image(reference, "reference")
        if reference.shape != image.shape:
            raise InputError(f"reference is {reference.shape}, but the image is {image.shape}")
    return {"reference": reference, "history": history}


def denoise(
    image: np.ndarray,
    method: str = "default",
    sigma: float | None = None,
    *,
    tile: int | None = None,
    overlap: int = 32,
    device: str = "auto",
    weights: str | os.PathLike | None = None,
    progress: Progress | None = None,
    reference: np.ndarray | None = None,
    history: RunHistory | None = None,
    **params: Any,
) -> np.ndarray:
    """Denoise one image with a registered method.

    Parameters
    ----------
    image : ndarray
        ``(H, W)`` or ``(H, W, C)``, C in {1, 3}, float in [0, 1] (uint8/uint16 are scaled).
    method : str
        A registered name (see ``denoisekit.list_methods()``); ``default`` is the recommended one.
    sigma : float, optional
        Noise standard deviation on the 0–255 scale; estimated from the image when omitted.
    tile, overlap : int, optional
        Process in ``tile``×``tile`` pieces overlapping by ``overlap`` pixels, blended without
        seams. Chosen automatically when the image would not fit in memory.
    device : str
        ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` for methods that run networks.
    weights : path, optional
        A weights file written by ``denoisekit train``; with ``method="default"`` the file's
        model is used. Networks without it use their shipped weights.
    progress : callable, optional
        ``progress(step, total, metrics) -> bool``; returning False cancels.
    reference : ndarray, optional
        The clean image, for methods whose spec has ``uses_reference`` (zero-shot fits log PSNR
        per iteration: oracle mode); other methods ignore it.
    history : RunHistory, optional
        Filled by methods with ``uses_reference`` (per-iteration record, for figures).
    **params
        The method's own parameters (see its spec).

    Returns
    -------
    ndarray
        float32 ``(H, W, C)`` in [0, 1].
    """
    image = check_image(image)
    spec = resolve_method(method, weights)
    _usable(spec, image.shape[2])
    params = spec.check_params(params)
    if spec.uses_device:
        params["device"] = resolve_device(device)
    if spec.uses_weights:
        params["weights"] = weights
    sigma = check_sigma(sigma)
    if spec.uses_sigma and sigma is None:
        sigma = max(estimate_sigma(image), 0.5)
    tile = tile or _auto_tile(spec, image)
    if tile:
        out = tiled(lambda piece: spec.function(piece, sigma, **params), image, tile, overlap, progress)
    else:
        out = spec.function(image, sigma, progress=progress, **params, **_fit_extras(spec, image, reference, history))
    return np.clip(out, 0.0, 1.0).astype(np.float32)


@dataclass
class DenoiseReport:
    """What happened to one file: the CLI prints it as one summary line."""

    input: Path
    output: Path | None
    method: str
    sigma: float | None
    sigma_estimated: bool
    seconds: float
    psnr: float | None = None
    ssim: float | None = None
    error: str | None = None
    #: More lines for the summary (a zero-shot fit's stopping and oracle record).
    detail: str | None = None

    def summary(self) -> str:
        if self.error:
            return f"denoisekit: error: {self.error}"
        sigma = "-" if self.sigma is None else f"{self.sigma:.1f}" + (" (estimated)" if self.sigma_estimated else "")
        line = f"{self.input} -> {self.output}  method={self.method}  sigma={sigma}  {self.seconds:.2f}s"
        if self.psnr is not None:
            line += f"  PSNR={self.psnr:.2f} dB  SSIM={self.ssim:.4f}"
        if self.detail:
            line += "\n  " + self.detail.replace("\n", "\n  ")
        return line


def expand_inputs(inputs: Sequence[str | os.PathLike]) -> list[Path]:
    """Files, globs and folders (their images, not recursive) → a sorted list of image files."""
    paths: list[Path] = []
    for item in inputs:
        text = str(item)
        if glob.has_magic(text):
            matches = sorted(Path(p) for p in glob.glob(text) if Path(p).suffix.lower() in IMAGE_SUFFIXES)
            if not matches:
                raise InputError(f"{text}: no image matches this pattern")
            paths += matches
        elif Path(text).is_dir():
            found = sorted(p for p in Path(text).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise InputError(f"{text}: folder holds no image ({', '.join(IMAGE_SUFFIXES)})")
            paths += found
        elif Path(text).exists():
            paths.append(Path(text))
        else:
            raise InputError(f"{text}: no such file or folder")
    return paths


def plan_outputs(inputs: list[Path], output: str | os.PathLike, overwrite: bool = False) -> list[Path]:
    """Where each input goes; several inputs (or an existing folder) mean ``output`` is a folder."""
    output = Path(output)
    if len(inputs) > 1 or output.is_dir():
        if output.exists() and not output.is_dir():
            raise InputError(f"{output}: several inputs need an output folder, but this is a file")
        targets = [output / path.name for path in inputs]
        names = [t.name for t in targets]
        clash = next((n for n in names if names.count(n) > 1), None)
        if clash:
            raise InputError(f"two inputs are both named {clash!r}; their outputs would overwrite each other")
    else:
        targets = [output]
        io.image_format_for(output)
        if not output.parent.is_dir():
            raise InputError(f"{output}: cannot write: folder {output.parent} does not exist")
    if not overwrite:
        existing = next((t for t in targets if t.exists()), None)
        if existing:
            raise InputError(f"{existing}: output exists; pass --overwrite to replace it")
    for target in targets:
        if target.resolve() in {p.resolve() for p in inputs}:
            raise InputError(f"{target}: output would replace its own input")
    return targets


def denoise_file(
    input: str | os.PathLike,
    output: str | os.PathLike,
    method: str = "default",
    sigma: float | None = None,
    *,
    reference: str | os.PathLike | None = None,
    overwrite: bool = False,
    tile: int | None = None,
    overlap: int = 32,
    device: str = "auto",
    weights: str | os.PathLike | None = None,
    progress: Progress | None = None,
    figures: str | os.PathLike | None = None,
    **params: Any,
) -> DenoiseReport:
    """Read ``input``, denoise it and write ``output`` in the input's format and bit depth.

    Alpha, ICC profile and bit depth are carried through. With ``reference`` (a clean image of
    the same size) the report holds PSNR and SSIM of the output as written to the file, and
    zero-shot methods run in oracle mode (PSNR per iteration). With ``figures`` (a folder),
    spectra and crops, and the fit's curves for zero-shot methods, are saved there as
    ``<input stem>_*.png``.
    """
    image, info = io.read_image(input)
    clean = None
    if reference is not None:
        clean, _ = io.read_image(reference)
        if clean.shape != image.shape:
            raise InputError(f"{reference}: reference is {clean.shape}, but {input} is {image.shape}")
    sigma = check_sigma(sigma)
    spec = resolve_method(method, weights)
    estimated = sigma is None and spec.uses_sigma
    if estimated:
        sigma = max(estimate_sigma(image), 0.5)
    start = time.perf_counter()
    history = RunHistory() if spec.uses_reference else None
    out = denoise(
        image,
        spec.name,
        sigma,
        tile=tile,
        overlap=overlap,
        device=device,
        weights=weights,
        progress=progress,
        reference=clean,
        history=history,
        **params,
    )
    seconds = time.perf_counter() - start
    written = io.write_image(output, out, info, overwrite=overwrite)
    report = DenoiseReport(Path(input), written, spec.name, sigma, estimated, seconds)
    if clean is not None:
        stored = quantize_to_bits(out, min(info.bit_depth, 16))
        report.psnr, report.ssim = psnr(clean, stored), ssim(clean, stored)
    if history is not None:
        report.detail = history.summary() or None
    if figures is not None:
        from denoisekit.figures import zero_shot_figures  # matplotlib only when figures are asked for

        zero_shot_figures(figures, Path(input).stem, image, out, clean, history)
    return report


def _reference_for(source: Path, reference: str | os.PathLike | None) -> Path | None:
    """A reference folder holds clean images under the same names as the inputs."""
    if reference is None:
        return None
    reference = Path(reference)
    return reference / source.name if reference.is_dir() else reference


def _denoise_one(job: tuple[Path, Path, dict[str, Any]]) -> DenoiseReport:
    """Worker entry: errors become part of the report so one bad file never stops a batch."""
    source, target, options = job
    try:
        return denoise_file(source, target, **options)
    except InputError as error:
        return DenoiseReport(source, None, options.get("method", "default"), None, False, 0.0, error=str(error))


def denoise_files(
    inputs: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    method: str = "default",
    sigma: float | None = None,
    *,
    workers: int = 1,
    overwrite: bool = False,
    on_report: Callable[[DenoiseReport], None] | None = None,
    **options: Any,
) -> list[DenoiseReport]:
    """Denoise many files (paths, globs, folders) into ``output`` (a folder when several).

    Everything that can be checked before work starts is checked first (paths, outputs,
    method, sigma, parameters), so a mistake writes nothing. A file that turns out unreadable
    later is reported (``report.error``) and the rest go on. ``workers`` > 1 spreads files
    over processes.
    """
    sources = expand_inputs(inputs)
    targets = plan_outputs(sources, output, overwrite)
    spec = resolve_method(method, options.get("weights"))
    not_params = ("reference", "tile", "overlap", "device", "weights", "figures", "progress")
    spec.check_params({k: v for k, v in options.items() if k not in not_params})
    if options.get("figures") is not None and Path(options["figures"]).is_file():
        raise InputError(f"{options['figures']}: figures go in a folder, but this is a file")
    check_sigma(sigma)
    if options.get("device", "auto") != "auto":
        resolve_device(options["device"])  # a GPU asked for and missing fails before any work
    if reason := spec.unavailable():
        raise InputError(f"method {spec.name!r} is not available: {reason}")
    if len(sources) > 1:
        Path(output).mkdir(parents=True, exist_ok=True)
    reference = options.pop("reference", None)
    # The resolved name: a weights file's header is read once, not again for every file.
    options = {"method": spec.name, "sigma": sigma, "overwrite": overwrite, **options}
    jobs = [
        (s, t, {**options, "reference": _reference_for(s, reference)}) for s, t in zip(sources, targets, strict=False)
    ]
    if len(jobs) == 1:  # a lone file's error is the command's error: raise it
        reports = [denoise_file(jobs[0][0], jobs[0][1], **jobs[0][2])]
        if on_report:
            on_report(reports[0])
        return reports
    reports = []
    for report in parallel_map(_denoise_one, jobs, workers):
        reports.append(report)
        if on_report:
            on_report(report)
    return reports


def sample_image(name: str) -> Path:
    """Path of a sample image that scikit-image ships (``camera``, ``astronaut``, ``coffee``…)."""
    import skimage.data

    folder = Path(skimage.data.__file__).parent
    for suffix in (".png", ".jpg"):
        if (folder / f"{name}{suffix}").is_file():
            return folder / f"{name}{suffix}"
    names = sorted(p.stem for p in folder.iterdir() if p.suffix in (".png", ".jpg"))
    raise InputError(f"no sample image {name!r}; choose one of: {', '.join(names)}")
