"""Regenerate docs/images/web.png: the page in use on scikit-image's camera at σ = 25.

python docs/screenshot.py      # needs Debian's chromium and the dev extra (playwright)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

import denoisekit as dk

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the web tests' browser setup
from web_helpers import CHROMIUM, CHROMIUM_ARGS

PORT = 8765


def main() -> None:
    folder = Path(tempfile.mkdtemp())
    clean, info = dk.read_image(dk.sample_image("camera"))
    dk.write_image(folder / "clean.png", clean, info)
    dk.write_image(folder / "noisy.png", dk.add_noise(clean, sigma=25, seed=0), info)
    server = subprocess.Popen([sys.executable, "-m", "denoisekit", "serve", "--port", str(PORT)])
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{PORT}/api/health")
                break
            except OSError:
                time.sleep(0.2)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(f"http://127.0.0.1:{PORT}")
            page.wait_for_selector("body[data-ready]")
            page.set_input_files("#file", str(folder / "noisy.png"))
            page.set_input_files("#reference", str(folder / "clean.png"))
            page.click("#run")
            page.wait_for_selector("#results:not([hidden])", timeout=120_000)
            page.wait_for_timeout(500)
            target = Path(__file__).parent / "images" / "web.png"
            page.screenshot(path=str(target))
            browser.close()
        # A 256-colour palette keeps the picture sharp and the file small for the repository.
        Image.open(target).convert("RGB").quantize(256).save(target, optimize=True)
        print(target)
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
