"""Shared by the web tests: images as uploaded bytes, stand-in methods, and a real server in a thread."""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import uvicorn
from conftest import smooth_image

from denoisekit import add_noise, registry
from denoisekit.errors import Cancelled, InputError
from denoisekit.io import ImageInfo, encode_image
from denoisekit.registry import Param, register_method

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)
#: Headless flags for the distribution's Chromium (also used by docs/screenshot.py).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

#: Stand-in methods wait on this while their ``hold`` parameter is set: a job that holds still.
GATE = threading.Event()


def image_bytes(image: np.ndarray, fmt: str = "PNG", bit_depth: int = 8) -> bytes:
    """``image`` encoded as a file of ``fmt``, as a browser would upload it."""
    return encode_image(image, ImageInfo(fmt, bit_depth, image.shape[2]))


def noisy_pair(height: int = 48, width: int = 56, channels: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A clean test scene and the same with Gaussian noise (sigma 25), both float32 (H, W, C)."""
    clean = smooth_image(height, width, channels)
    return clean, add_noise(clean, sigma=25, seed=0)


def _fit(image, sigma, progress=None, *, steps=5, delay=0.0, hold=False, fail="no", reference=None, history=None):
    """A zero-shot stand-in: ``steps`` progress reports (loss; psnr given a reference), held by GATE, or failing."""
    for step in range(1, steps + 1):
        if hold:
            GATE.wait(timeout=30)
        time.sleep(delay)
        if fail == "bug":
            raise RuntimeError("the stand-in fit broke")
        if fail == "input":
            raise InputError("the stand-in fit refuses this image")
        metrics = {"loss": 1.0 / step} | ({} if reference is None else {"psnr": 20.0 + step / steps})
        if progress is not None and progress(step, steps, metrics) is False:
            raise Cancelled("stopped")
    return image


FAKES = {
    "web-test-fit": dict(
        family="zero-shot",
        summary="a stand-in zero-shot fit",
        params=(
            Param("steps", int, 5, "progress reports", 1, 100_000),
            Param("delay", float, 0.0, "seconds per step", 0.0, 1.0),
            Param("hold", bool, False, "wait for the test's gate at each step"),
            Param("fail", str, "no", "fail on purpose", choices=("no", "input", "bug")),
        ),
        uses_sigma=False,
        uses_reference=True,
        function=_fit,
    ),
    "web-test-quick": dict(
        family="classical",
        summary="a stand-in one-pass method",
        params=(Param("fail", str, "no", "fail on purpose", choices=("no", "input", "bug")),),
        function=_fit,
    ),
    "web-test-rgb": dict(family="classical", summary="colour only", channels=(3,), function=_fit),
    "web-test-missing": dict(
        family="classical", summary="never here", unavailable=lambda: "it needs a package not installed", function=_fit
    ),
    "web-test-file": dict(
        family="classical",
        summary="parameters a request must not set",
        params=(Param("weights", Path, None, "a file on the server"), Param("note", str, None, "free text")),
        function=_fit,
    ),
}


@contextlib.contextmanager
def fake_methods() -> Iterator[None]:
    """Register the stand-in methods for the duration; GATE starts closed and ends open."""
    registry.list_methods()  # the real methods first, as they always are
    for name, options in FAKES.items():
        options = dict(options)
        register_method(name, **{k: v for k, v in options.items() if k != "function"})(options["function"])
    GATE.clear()
    try:
        yield
    finally:
        GATE.set()  # release any job still waiting, so its thread ends
        for name in FAKES:
            registry._REGISTRY.pop(name, None)


@contextlib.contextmanager
def live_server(app) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
