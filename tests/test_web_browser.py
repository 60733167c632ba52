"""The page end to end in a real headless Chromium (Debian's ``chromium``, driven by Playwright).

Skipped, with the reason shown by ``-ra``, where Playwright or the browser is missing:
``.ci/run`` installs both. Playwright's own browser download is never used.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from web_helpers import CHROMIUM, CHROMIUM_ARGS, fake_methods, image_bytes, live_server, noisy_pair

from denoisekit.io import decode_image
from denoisekit.web import WebConfig, create_app


def expect(locator):
    """Playwright's retrying assertion: it polls through injected code, which the page's CSP
    allows (a string predicate in wait_for_function falls back to eval, which it forbids)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed: pip install -e '.[dev]'")
    if CHROMIUM is None:
        pytest.skip("no Chromium on this machine: apt-get install chromium (.ci/run does it when root)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server():
    with fake_methods(), live_server(create_app(WebConfig())) as url:
        yield url


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_timeout(30_000)
    page.goto(server)
    page.wait_for_selector("body[data-ready]")
    yield page
    context.close()
    assert not errors, f"the page raised: {errors}"


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """A 16-bit colour noisy PNG and its clean 8-bit reference, as a user would pick them."""
    clean, noisy = noisy_pair(72, 96, 3)
    (tmp_path / "noisy.png").write_bytes(image_bytes(noisy, "PNG", 16))
    (tmp_path / "clean.png").write_bytes(image_bytes(clean))
    return tmp_path / "noisy.png", tmp_path / "clean.png"


def test_upload_denoise_compare_and_download(page, files):
    noisy, clean = files
    options = page.eval_on_selector_all("#method option", "nodes => nodes.map(n => n.value)")
    assert {"median", "nlm", "web-test-fit"} <= set(options)  # the registry's, stand-in included

    page.set_input_files("#file", str(noisy))
    assert re.fullmatch(r"σ ≈ \d+\.\d \(estimated\)", page.text_content(".facts .sigma"))
    assert "96 × 72 · colour · PNG 16-bit" in page.text_content("#file-info")
    page.set_input_files("#reference", str(clean))
    page.select_option("#method", "median")
    page.fill("#param-size", "3")
    page.click("#run")

    page.wait_for_selector("#results:not([hidden])")
    assert page.text_content("#message").startswith("Done in")
    assert re.fullmatch(r"\d+\.\d\d dB", page.text_content("#metrics .psnr"))
    assert re.fullmatch(r"0\.\d{4}", page.text_content("#metrics .ssim"))
    expect(page.locator("#after")).to_have_js_property("naturalWidth", 96)

    # The slider moves by keyboard, the zoom by its buttons; every view shows something.
    page.focus("#handle")
    page.keyboard.press("ArrowLeft")
    assert page.get_attribute("#handle", "aria-valuenow") == "45"
    page.click("#zoom-one")
    assert page.text_content("#zoom-level") == "100%"
    page.click("[data-view=side]")
    assert page.locator("#view-side .pane").count() == 3  # noisy, denoised, reference
    page.click("[data-view=spectra]")
    for spectrum in page.locator("#spectra img").all():
        expect(spectrum).not_to_have_js_property("naturalWidth", 0)
    assert page.locator("#spectra img").count() == 3
    assert page.is_hidden("[data-view=parts]")  # median combines nothing

    with page.expect_download() as download:
        page.click("#download")
    assert download.value.suggested_filename == "noisy-median.png"
    image, info = decode_image(Path(download.value.path()).read_bytes())
    assert image.shape == (72, 96, 3) and (info.format, info.bit_depth) == ("PNG", 16)


def test_a_long_job_shows_its_curve_and_can_be_cancelled(page, files):
    noisy, clean = files
    page.set_input_files("#file", str(noisy))
    page.set_input_files("#reference", str(clean))
    page.select_option("#method", "web-test-fit")
    assert "runs as a job with live progress" in page.text_content("#method-summary")
    page.fill("#param-steps", "2000")
    page.fill("#param-delay", "0.005")
    page.click("#run")
    page.wait_for_selector("#curve-box:not([hidden])")
    expect(page.locator("#progress-text")).to_contain_text("/ 2000")
    assert page.locator("#series button").all_text_contents() == ["loss", "psnr"]
    page.click("#cancel")
    page.wait_for_selector("#message.warn")
    assert page.text_content("#message") == "Cancelled."
    assert page.is_hidden("#results") and page.is_enabled("#run")


def test_zs_blend_shows_the_parts_it_combined(page, files):
    page.set_input_files("#file", str(files[0]))
    page.select_option("#method", "zs-blend")
    page.fill("#param-iterations", "2")
    page.fill("#param-zs_iterations", "2")
    page.click("#run")
    page.wait_for_selector("#results:not([hidden])", timeout=120_000)
    page.click("[data-view=parts]")
    captions = page.locator("#parts figcaption").all_text_contents()
    assert captions == ["Pixel2Pixel", "ZS-N2N", "Blend", "Pixel2Pixel's share"]
    for part in page.locator("#parts img").all():
        expect(part).to_have_js_property("naturalWidth", 96)
    page.select_option("#method", "median")
    page.click("#run")
    page.wait_for_selector("#results:not([hidden])")
    assert page.is_hidden("[data-view=parts]") and page.is_visible("#view-compare")  # back from a tab now gone


def test_refusals_are_shown_in_words(page, tmp_path):
    (tmp_path / "notes.png").write_text("not an image at all")
    page.set_input_files("#file", str(tmp_path / "notes.png"))
    page.wait_for_selector("#message.error")
    assert "not an image file" in page.text_content("#message")
