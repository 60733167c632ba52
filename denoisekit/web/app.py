"""The web page and its JSON API: a thin face over :mod:`denoisekit.api`.

``denoisekit serve`` runs :func:`serve`; tests and other ASGI servers use :func:`create_app`.
The schema is at ``/openapi.json`` (and browsable at ``/docs``). Endpoints:

``GET /api/health``
    Alive, version, job counts and the limits in force.
``GET /api/methods``
    Every registered method with its parameters: the page builds its forms from this.
``POST /api/estimate``
    The noise level of an uploaded image, with its size, format and bit depth.
``POST /api/denoise``
    Multipart: ``image``, ``method``, ``sigma`` (or ``estimate``), ``reference``, ``device`` and
    the method's own parameters as fields of their own. Quick methods answer the denoised
    file (in the input's format and bit depth); long ones — and any request sent with
    ``Prefer: respond-async`` — answer 202 and a job.
``GET /api/jobs/{id}``, ``.../events``, ``.../result``, ``.../images/{name}``; ``DELETE /api/jobs/{id}``
    A job's state, its server-sent event stream, its file, its previews and spectra; cancel or forget it.

Every error is JSON ``{"error": "..."}`` with a 4xx status (5xx only for bugs and a busy server).
Nothing is ever read from or written to a path named by a request.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, FastAPI, File, Form, Header, HTTPException, Request, UploadFile
from fastapi import Path as FastAPIPath
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from denoisekit import __version__, api
from denoisekit.errors import ImageTooLarge, InputError
from denoisekit.estimate import estimate_sigma
from denoisekit.io import ImageInfo, decode_image, encode_image
from denoisekit.metrics import psnr, ssim
from denoisekit.models.weights import has_shipped_weights
from denoisekit.noise import quantize_to_bits
from denoisekit.registry import MethodSpec, Param, get_method, list_methods, resolve_alias
from denoisekit.validation import check_sigma
from denoisekit.web.jobs import Busy, Job, JobStore, Lane
from denoisekit.web.render import preview_png, spectrum, spectrum_png
from denoisekit.zeroshot.history import RunHistory

#: Families whose methods make one pass over the image (seconds): a request waits for them.
#: Any other family (zero-shot fits such as DIP and ZS-N2N, architecture searches) runs as a
#: job with live progress; a family this list does not know is taken as slow, the safe side.
QUICK_FAMILIES = frozenset({"classical", "supervised", "self-supervised"})

MEDIA_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "TIFF": "image/tiff", "BMP": "image/bmp"}
_SUFFIXES = {"PNG": "png", "JPEG": "jpg", "TIFF": "tif", "BMP": "bmp"}
_ASSET_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
_STATIC = Path(__file__).parent / "static"
# Form fields of POST /api/denoise that are not method parameters.
_FIELDS = frozenset({"image", "reference", "method", "sigma", "device"})
_EVENT_POLL = 0.2  # seconds between looks at a job's state: live enough for a progress bar and curve
_KEEP_ALIVE = 15.0  # seconds of silence before the event stream sends a comment, so proxies keep it open


@dataclass(frozen=True)
class WebConfig:
    """The limits of one server; ``denoisekit serve`` sets the main ones from its options.

    Attributes
    ----------
    max_upload_bytes : int
        Largest request body (image and reference together); more is refused with 413.
    max_pixels : int
        Largest image, in pixels, read from its header before decoding (decompression bombs): 413.
    result_ttl : float
        Seconds a finished job's result is kept.
    max_results : int
        Finished jobs kept at most (their files live in memory); the oldest go first.
    quick_workers, max_quick_tasks : int
        Threads for one-pass methods, decoding and estimates, and how many such tasks may wait or run.
    job_workers, max_jobs : int
        Threads for long jobs, and how many long jobs may wait or run; more are answered 503.
    """

    max_upload_bytes: int = 100 * 2**20
    max_pixels: int = 25_000_000
    result_ttl: float = 1800.0
    max_results: int = 20
    quick_workers: int = 2
    max_quick_tasks: int = 8
    job_workers: int = 1
    max_jobs: int = 4

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if value <= 0:
                raise InputError(f"web setting {name}={value} must be positive")
        if self.max_quick_tasks < self.quick_workers or self.max_jobs < self.job_workers:
            raise InputError("web settings: each queue limit must be at least its number of workers")


class ErrorBody(BaseModel):
    """Every error answer: one line saying what was wrong."""

    error: str


#: The pictures a job can show: previews (8-bit PNG) of ``input``, ``output`` and ``reference``,
#: their log-magnitude spectra (``*-spectrum``), and ``panel-N``: the parts a method combined
#: (``zs-blend``'s members, blend and share), titled by the job's ``panels``.
IMAGE_NAME = r"^(input|output|reference)(-spectrum)?$|^panel-[0-9]{1,2}$"


@dataclass
class DenoiseTask:
    """What a job needs: decoded images and checked settings (nothing the worker must validate)."""

    image: np.ndarray
    info: ImageInfo
    reference: np.ndarray | None
    method: str
    sigma: float | None
    device: str
    params: dict[str, Any]


def runs_as_job(spec: MethodSpec) -> bool:
    """Whether ``spec``'s method runs as a job with progress rather than within the request."""
    return spec.family not in QUICK_FAMILIES


def settable(param: Param) -> bool:
    """Whether the page may set ``param``: numbers, switches and listed choices.

    A free-form string or path could name a file on the server, which no request may do.
    """
    return param.type in (int, float, bool) or (param.type is str and param.choices is not None)


def _weights_missing(spec: MethodSpec) -> str | None:
    """Why a network cannot run here: the page never takes a weights file, so it needs shipped ones."""
    if spec.uses_weights and not has_shipped_weights(spec.name):
        return "no shipped weights (trained weights run from the command line with --weights)"
    return None


def method_json(spec: MethodSpec) -> dict[str, Any]:
    """What the page needs to offer a method and build its form."""
    return {
        "name": spec.name,
        "family": spec.family,
        "summary": spec.summary,
        "default": spec.name == resolve_alias("default"),
        "long": runs_as_job(spec),
        "uses_sigma": spec.uses_sigma,
        "uses_device": spec.uses_device,
        "channels": list(spec.channels),
        "unavailable": spec.unavailable() or _weights_missing(spec),
        "params": [
            {
                "name": p.name,
                "type": p.type.__name__,
                "default": p.default,
                "help": p.help,
                "low": p.low,
                "high": p.high,
                "choices": None if p.choices is None else list(p.choices),
            }
            for p in spec.params
            if settable(p)
        ],
    }


def job_json(job: Job, history: bool = True) -> dict[str, Any]:
    """A job as ``GET /api/jobs/{id}`` answers it."""
    base = f"/api/jobs/{job.id}"
    files = job.files
    body = {
        "id": job.id,
        "status": job.status,
        "long": job.lane == "long",
        "step": job.step,
        "total": job.total,
        "error": job.error,
        "created": job.created,
        "started": job.started,
        "finished": job.finished,
        **job.facts,
        "links": {
            "self": base,
            "events": f"{base}/events",
            "result": f"{base}/result" if job.status == "done" else None,
            "images": {name: f"{base}/images/{name}" for name in files if name != "result"},
        },
    }
    if history:
        body["history"] = list(job.history)
    return body


class UploadLimit:
    """ASGI middleware refusing request bodies over ``max_bytes`` with 413, without reading them.

    A declared ``Content-Length`` over the limit is answered before a byte of the body is
    read; a body without one (chunked) is counted as it streams in and refused the moment it
    passes the limit, so neither memory nor disk fills with it.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    def _message(self) -> str:
        return f"upload too large: at most {self.max_bytes / 2**20:.1f} MiB per request"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await JSONResponse({"error": self._message()}, 413, headers={"Connection": "close"})(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                # Raised inside the form parser: FastAPI passes HTTPExceptions on, and they become JSON.
                raise HTTPException(413, self._message(), headers={"Connection": "close"})
            return message

        await self.app(scope, counted, send)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), exc.headers)

    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        where = " ".join(str(part) for part in first.get("loc", ())[1:]) or "request"
        return _error(422, f"{where}: {first.get('msg', 'invalid')}")

    async def input_error(request: Request, exc: InputError) -> JSONResponse:
        return _error(413 if isinstance(exc, ImageTooLarge) else 400, str(exc))

    async def busy(request: Request, exc: Busy) -> JSONResponse:
        return _error(503, str(exc), {"Retry-After": "10"})

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(InputError, input_error)
    app.add_exception_handler(Busy, busy)


def _store(request: Request) -> JobStore:
    return request.app.state.jobs


def _config(request: Request) -> WebConfig:
    return request.app.state.config


async def _quick(request: Request, function: Callable[..., Any], *args: Any) -> Any:
    """Run CPU work on the quick lane (bounded, off the event loop) and wait for it."""
    return await asyncio.wrap_future(_store(request).lanes["quick"].submit(function, *args))


async def _decode(request: Request, upload: UploadFile, name: str) -> tuple[np.ndarray, ImageInfo]:
    """The upload's pixels; its format comes from its content, never its name or declared type."""
    data = await upload.read()
    return await _quick(request, decode_image, data, _config(request).max_pixels, name)


def _download_name(filename: str | None, method: str, fmt: str) -> str:
    """``<stem>-<method>.<ext>``, in plain ASCII: the client's file name is a label, never a path."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", PurePath((filename or "").replace("\\", "/")).stem).strip("._")
    return f"{stem[:80] or 'image'}-{method}.{_SUFFIXES[fmt]}"


def _method_params(spec: MethodSpec, form: Any) -> dict[str, Any]:
    """The method's own parameters from the form's other fields, checked against its spec."""
    own = {p.name: p for p in spec.params}
    params: dict[str, Any] = {}
    for name, value in form.multi_items():
        if name in _FIELDS:
            continue
        if not isinstance(value, str):
            raise InputError(f"parameter {name!r} must be a form field, not a file")
        if name in own and not settable(own[name]):
            raise InputError(f"parameter {name!r} of method {spec.name!r} cannot be set from the web")
        value = value.strip()
        if not value:
            continue  # an empty field means the method's default
        if name in own and own[name].type is bool:
            if value.lower() not in ("true", "false", "1", "0", "on", "off"):
                raise InputError(f"parameter {name}={value!r} must be true or false")
            value = value.lower() in ("true", "1", "on")
        params[name] = value
    return spec.check_params(params)


def _denoise(job: Job) -> None:
    """The work of one job: previews, sigma, the method, metrics and the file, published as they come."""
    task: DenoiseTask = job.payload
    spec = get_method(task.method)
    noisy_spectrum = spectrum(task.image)
    high = float(noisy_spectrum.max())  # every spectrum of the job on the noisy one's scale
    files = {"input": preview_png(task.image), "input-spectrum": spectrum_png(noisy_spectrum, high)}
    if task.reference is not None:
        files["reference"] = preview_png(task.reference)
        files["reference-spectrum"] = spectrum_png(spectrum(task.reference), high)
    job.publish(files={name: (content, "image/png") for name, content in files.items()})

    sigma = task.sigma
    if sigma is None and spec.uses_sigma:
        estimate = estimate_sigma(task.image)
        sigma = max(estimate, 0.5)
        job.publish(sigma_estimate=estimate)
    job.publish(sigma=sigma)
    start = time.perf_counter()
    history = RunHistory() if spec.uses_reference else None
    out = api.denoise(
        task.image,
        task.method,
        sigma,
        device=task.device,
        progress=job.progress,
        reference=task.reference,  # zero-shot fits then report PSNR per iteration: the live curve
        history=history,
        **task.params,
    )
    seconds = time.perf_counter() - start
    stored = quantize_to_bits(out, task.info.bit_depth)  # metrics of the file as written, as the CLI does
    facts: dict[str, Any] = {"seconds": seconds}
    if task.reference is not None:
        facts["metrics"] = {
            "input": {"psnr": psnr(task.reference, task.image), "ssim": ssim(task.reference, task.image)},
            "output": {"psnr": psnr(task.reference, stored), "ssim": ssim(task.reference, stored)},
        }
    files = {
        "result": (encode_image(out, task.info), MEDIA_TYPES[task.info.format]),
        "output": (preview_png(stored), "image/png"),
        "output-spectrum": (spectrum_png(spectrum(stored), high), "image/png"),
    }
    panels = history.panels if history is not None else {}
    files |= {f"panel-{index}": (preview_png(image), "image/png") for index, image in enumerate(panels.values())}
    facts["panels"] = list(panels)  # the titles of panel-0, panel-1, ...
    job.publish(files=files, **facts)


def _result_response(job: Job) -> Response:
    content, media_type = job.files["result"]
    headers = {"Content-Disposition": f'attachment; filename="{job.facts["download"]}"', "X-Denoisekit-Job": job.id}
    if job.facts.get("sigma") is not None:
        headers["X-Denoisekit-Sigma"] = f"{job.facts['sigma']:.3f}"
    if "metrics" in job.facts:
        headers["X-Denoisekit-PSNR"] = f"{job.facts['metrics']['output']['psnr']:.3f}"
        headers["X-Denoisekit-SSIM"] = f"{job.facts['metrics']['output']['ssim']:.5f}"
    return Response(content, media_type=media_type, headers=headers)


def _job(request: Request, job_id: str) -> Job:
    job = _store(request).get(job_id)
    if job is None:
        ttl = _config(request).result_ttl
        raise HTTPException(
            404, f"no job {job_id!r}: it never existed, was deleted, or expired ({ttl:g} s after it ended)"
        )
    return job


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, allow_nan=False)}\n\n"


async def _events(job: Job) -> AsyncIterator[str]:
    """``progress`` events while the job runs (new curve points only), then one ``done`` with everything."""
    seen, sent, quiet = -1, 0, 0.0
    while True:
        if job.version != seen:
            seen = job.version
            final = job.is_final  # read after the version: a change in between only repeats an event
            if final:
                yield _sse("done", job_json(job))
                return
            points = job.history[sent:]
            sent += len(points)
            yield _sse("progress", {**job_json(job, history=False), "points": points})
            quiet = 0.0
        elif quiet >= _KEEP_ALIVE:
            yield ": keep-alive\n\n"
            quiet = 0.0
        await asyncio.sleep(_EVENT_POLL)
        quiet += _EVENT_POLL


_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in {
        400: "bad input: not an image, unknown method or parameter, sigma out of range...",
        413: "upload over the byte limit, or image over the pixel limit",
        422: "a required field is missing or malformed",
        503: "busy: too many requests queued or running; retry later",
    }.items()
}
router = APIRouter(prefix="/api")


@router.get("/health")
async def health(request: Request) -> dict[str, Any]:
    """Whether the server is up, its version, how many jobs it holds, and the limits in force."""
    config = _config(request)
    return {
        "status": "ok",
        "version": __version__,
        "jobs": _store(request).counts(),
        "limits": {
            "max_upload_bytes": config.max_upload_bytes,
            "max_pixels": config.max_pixels,
            "result_ttl": config.result_ttl,
            "max_jobs": config.max_jobs,
        },
    }


@router.get("/methods")
async def methods() -> list[dict[str, Any]]:
    """Every registered method, its family, whether it runs as a job, and the parameters a form may set."""
    return [method_json(get_method(name)) for name in list_methods()]


@router.post("/estimate", responses=_ERRORS)
async def estimate(
    request: Request, image: Annotated[UploadFile, File(description="PNG, JPEG, TIFF or BMP, 8 or 16 bit")]
) -> dict[str, Any]:
    """The image's noise level (0–255 scale) with its size, channels, format and bit depth."""
    pixels, info = await _decode(request, image, "image")
    sigma = await _quick(request, estimate_sigma, pixels)
    height, width, channels = pixels.shape
    return {
        "sigma": sigma,
        "width": width,
        "height": height,
        "channels": channels,
        "format": info.format,
        "bit_depth": info.bit_depth,
        "alpha": info.alpha is not None,
    }


@router.post(
    "/denoise",
    response_class=Response,
    responses={
        200: {
            "content": {media: {} for media in MEDIA_TYPES.values()},
            "description": "the denoised file, in the input's format and bit depth (quick methods)",
        },
        202: {"description": "a job was queued (long methods, or Prefer: respond-async); Location names it"},
        **_ERRORS,
    },
)
async def denoise(
    request: Request,
    image: Annotated[UploadFile, File(description="the noisy image: PNG, JPEG, TIFF or BMP, 8 or 16 bit")],
    method: Annotated[str, Form(description="a name from /api/methods")] = "default",
    sigma: Annotated[str, Form(description='noise level on the 0–255 scale, or "estimate"')] = "estimate",
    device: Annotated[str, Form(description="auto, cpu, cuda or cuda:N (network methods)")] = "auto",
    reference: Annotated[UploadFile | None, File(description="a clean image, for PSNR and SSIM")] = None,
    prefer: Annotated[str | None, Header(description='"respond-async" asks for a job whatever the method')] = None,
) -> Response:
    """Denoise an image; the method's own parameters are further form fields (see ``/api/methods``)."""
    spec = get_method(method)
    params = _method_params(spec, await request.form())
    given = None if sigma.strip().lower() in ("", "estimate", "auto") else check_sigma(sigma)
    noisy, info = await _decode(request, image, "image")
    clean = None
    if reference is not None and (reference.filename or reference.size):  # a form's empty file field: none
        clean, _ = await _decode(request, reference, "reference")
        if clean.shape != noisy.shape:
            raise InputError(
                f"reference is {clean.shape[1]}x{clean.shape[0]}x{clean.shape[2]}, "
                f"but the image is {noisy.shape[1]}x{noisy.shape[0]}x{noisy.shape[2]}"
            )
    api._usable(spec, noisy.shape[2])  # the API's own check, made before queueing rather than in the job
    if spec.uses_device and device != "auto":
        await _quick(request, api.resolve_device, device)  # a missing GPU is refused now, not mid-job
    facts = {
        "method": spec.name,
        "family": spec.family,
        "filename": image.filename,
        "download": _download_name(image.filename, spec.name, info.format),
        "format": info.format,
        "bit_depth": info.bit_depth,
        "width": noisy.shape[1],
        "height": noisy.shape[0],
        "channels": noisy.shape[2],
        "params": params,
    }
    task = DenoiseTask(noisy, info, clean, spec.name, given, device, params)
    lane = "long" if runs_as_job(spec) else "quick"
    job = _store(request).submit(lane, task, _denoise, facts)
    if lane == "long" or "respond-async" in (prefer or "").lower():
        return JSONResponse(job_json(job), 202, headers={"Location": f"/api/jobs/{job.id}"})
    await asyncio.wrap_future(job.future)
    if job.status != "done":
        raise HTTPException(400 if job.bad_input else 500, job.error or f"job {job.status}")
    return _result_response(job)


@router.get("/jobs/{job_id}", responses=_ERRORS | {404: {"model": ErrorBody}})
async def job_state(request: Request, job_id: str) -> dict[str, Any]:
    """A job's state, progress, curve points, sigma, metrics and links to its files."""
    return job_json(_job(request, job_id))


@router.get(
    "/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, 404: {"model": ErrorBody}},
)
async def job_events(request: Request, job_id: str) -> StreamingResponse:
    """Server-sent events: ``progress`` (state and new curve points) while it runs, then ``done``."""
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(_events(_job(request, job_id)), media_type="text/event-stream", headers=headers)


@router.get(
    "/jobs/{job_id}/result",
    response_class=Response,
    responses={
        200: {"content": {media: {} for media in MEDIA_TYPES.values()}},
        404: {"model": ErrorBody},
        409: {"model": ErrorBody},
    },
)
async def job_result(request: Request, job_id: str) -> Response:
    """The denoised file, in the input's format and bit depth (alpha and ICC profile kept)."""
    job = _job(request, job_id)
    if job.status != "done":
        raise HTTPException(
            409, f"job {job_id!r} is {job.status}: it has no result" + (f" ({job.error})" if job.error else "")
        )
    return _result_response(job)


@router.get(
    "/jobs/{job_id}/images/{name}",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, 404: {"model": ErrorBody}},
)
async def job_image(request: Request, job_id: str, name: Annotated[str, FastAPIPath(pattern=IMAGE_NAME)]) -> Response:
    """An 8-bit PNG preview (``input``, ``output``, ``reference``), a log-magnitude spectrum
    (``*-spectrum``) or a part the method combined (``panel-N``, titled by the job's ``panels``)."""
    job = _job(request, job_id)
    if name not in job.files:
        raise HTTPException(404, f"job {job_id!r} has no {name} image (yet)")
    content, media_type = job.files[name]
    return Response(content, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})


@router.delete("/jobs/{job_id}", responses={404: {"model": ErrorBody}})
async def job_delete(request: Request, job_id: str) -> dict[str, Any]:
    """Cancel a queued or running job (a running one stops at its next progress report); forget a finished one."""
    store, job = _store(request), _job(request, job_id)
    if job.is_final:
        store.delete(job_id)
        return {**job_json(job, history=False), "status": "deleted"}
    store.cancel(job)
    return job_json(job, history=False)


def _assets() -> dict[str, tuple[bytes, str]]:
    """The page's files, read once: requests name them from this fixed set, never by path."""
    return {
        path.name: (path.read_bytes(), _ASSET_TYPES[path.suffix])
        for path in _STATIC.iterdir()
        if path.suffix in _ASSET_TYPES
    }


def create_app(config: WebConfig | None = None) -> FastAPI:
    """The ASGI application: the page, its assets and the API, with the limits of ``config``.

    Examples
    --------
    >>> from fastapi.testclient import TestClient
    >>> with TestClient(create_app(WebConfig(max_pixels=4_000_000))) as client:
    ...     client.get("/api/health").json()["status"]
    'ok'
    """
    config = config or WebConfig()
    lanes = {
        "quick": Lane("quick", config.quick_workers, config.max_quick_tasks),
        "long": Lane("long", config.job_workers, config.max_jobs),
    }
    store = JobStore(lanes, config.result_ttl, config.max_results)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Importing every method's module (torch, for networks) takes seconds: do it before
        # serving, in a thread, rather than in the event loop on the first request.
        await asyncio.to_thread(list_methods)

        async def sweep() -> None:  # frees memory even when no request comes to trigger it
            while True:
                await asyncio.sleep(min(60.0, config.result_ttl / 2))
                store.sweep()

        sweeper = asyncio.create_task(sweep())
        try:
            yield
        finally:
            sweeper.cancel()
            store.shutdown()

    app = FastAPI(
        title="denoisekit",
        version=__version__,
        summary="Denoise images: upload, choose a method, compare, download.",
        lifespan=lifespan,
    )
    app.state.config, app.state.jobs = config, store
    assets = _assets()
    _install_error_handlers(app)
    app.add_middleware(UploadLimit, max_bytes=config.max_upload_bytes)
    app.include_router(router)

    page_headers = {
        "Cache-Control": "no-cache",
        "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:",
        "X-Content-Type-Options": "nosniff",
    }

    @app.get("/", include_in_schema=False)
    async def page() -> Response:
        content, media_type = assets["index.html"]
        return Response(content, media_type=media_type, headers=page_headers)

    @app.get("/static/{name}", include_in_schema=False)
    async def asset(name: str) -> Response:
        if name not in assets:
            raise HTTPException(404, f"no asset {name!r}")
        content, media_type = assets[name]
        return Response(content, media_type=media_type, headers=page_headers)

    return app


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, or an InputError saying why not (port in use, unknown host)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        raise InputError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def serve(host: str = "127.0.0.1", port: int = 8000, config: WebConfig | None = None) -> None:
    """Serve the page and the API until interrupted (Ctrl+C).

    Parameters
    ----------
    host : str
        Address to bind: loopback by default, so only this machine reaches the page.
    port : int
        TCP port.
    config : WebConfig, optional
        Limits (upload size, pixels, result time-to-live, job queue).

    Raises
    ------
    InputError
        The address cannot be bound (port in use, unknown host).
    """
    import uvicorn

    sock = _listen(host, port)  # before anything else, so a busy port is one clear line
    try:
        local = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    if not local:
        print(f"denoisekit: warning: {host} is reachable from other machines; the page has no login", file=sys.stderr)
    shown = f"[{host}]" if ":" in host else host
    print(f"denoisekit: serving http://{shown}:{port}/  (Ctrl+C stops)", file=sys.stderr)
    # A short grace period: open event streams would otherwise hold the shutdown until their jobs end.
    settings = uvicorn.Config(create_app(config), timeout_graceful_shutdown=3, log_level="warning")
    with sock:
        uvicorn.Server(settings).run(sockets=[sock])
