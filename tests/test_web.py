"""The web API: every endpoint, every refusal, the limits, jobs, and the serve command."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
import zlib

import numpy as np
import pytest
from fastapi.testclient import TestClient
from web_helpers import GATE, fake_methods, image_bytes, live_server, noisy_pair

from denoisekit import cli
from denoisekit.io import decode_image
from denoisekit.models.weights import has_shipped_weights
from denoisekit.registry import get_method, list_methods
from denoisekit.web import WebConfig, create_app
from denoisekit.web.jobs import Busy, JobStore, Lane


@pytest.fixture(scope="module", autouse=True)
def fakes():
    with fake_methods():
        yield


@pytest.fixture(autouse=True)
def closed_gate():
    GATE.clear()
    yield
    GATE.set()


def make_client(**limits) -> TestClient:
    return TestClient(create_app(WebConfig(**limits)))


@pytest.fixture
def client():
    with make_client() as client:
        yield client


@pytest.fixture
def noisy():
    return noisy_pair()[1]


def upload(noisy, clean=None, fmt="PNG", bit_depth=8, name="noisy.png"):
    files = {"image": (name, image_bytes(noisy, fmt, bit_depth), "application/octet-stream")}
    if clean is not None:
        files["reference"] = ("clean.png", image_bytes(clean), "image/png")
    return files


def wait_final(client, job_id, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] in ("done", "failed", "cancelled") or time.monotonic() > deadline:
            return job
        time.sleep(0.02)


def wait_status(client, job_id, status, timeout=10.0):
    deadline = time.monotonic() + timeout
    while client.get(f"/api/jobs/{job_id}").json()["status"] != status:
        assert time.monotonic() < deadline, f"job never became {status}"
        time.sleep(0.02)


def events(client, job_id):
    """Parse the job's server-sent event stream into (event, data) pairs until it ends."""
    found, event = [], None
    with client.stream("GET", f"/api/jobs/{job_id}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                found.append((event, json.loads(line[6:])))
    return found


# ---------------------------------------------------------------- what the server tells


def test_health_reports_version_jobs_and_limits():
    with make_client(max_upload_bytes=2**20, max_pixels=1000, result_ttl=60, max_jobs=2) as client:
        body = client.get("/api/health").json()
    assert body["status"] == "ok" and body["version"]
    assert body["limits"] == {"max_upload_bytes": 2**20, "max_pixels": 1000, "result_ttl": 60, "max_jobs": 2}
    assert set(body["jobs"]) == {"queued", "running", "done", "failed", "cancelled"}


def test_methods_come_from_the_registry(client):
    methods = {m["name"]: m for m in client.get("/api/methods").json()}
    assert list(methods) == list_methods()
    nlm = methods["nlm"]
    assert nlm["family"] == "classical" and not nlm["long"]
    assert [p["name"] for p in nlm["params"]] == [p.name for p in get_method("nlm").params]
    assert nlm["params"][1] == {
        "name": "patch_size",
        "type": "int",
        "default": 5,
        "help": "side of the compared patches",
        "low": 3,
        "high": 15,
        "choices": None,
    }
    assert sum(m["default"] for m in methods.values()) == 1
    # Zero-shot fits run as jobs; the stand-in is one only by its family.
    assert methods["web-test-fit"]["long"] and methods["web-test-fit"]["family"] == "zero-shot"
    assert methods["web-test-missing"]["unavailable"] == "it needs a package not installed"
    # A path or free-form string could name a server file: never offered.
    assert methods["web-test-file"]["params"] == []
    # So a network runs on the page only with shipped weights; the default one has them.
    networks = [name for name in methods if get_method(name).uses_weights]
    assert methods["unet"]["unavailable"] is None and methods["unet"]["default"]
    for name in networks:
        assert (methods[name]["unavailable"] is None) == has_shipped_weights(name)
    assert any("no shipped weights" in (methods[name]["unavailable"] or "") for name in networks)


def test_page_and_its_assets(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert '<script type="module" src="/static/app.js">' in page.text
    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200 and response.headers["content-type"].startswith(kind)
    for name in ("nope.js", "..%2Fapp.py", "%2e%2e%2f%2e%2e%2fpyproject.toml"):
        response = client.get(f"/static/{name}")
        assert response.status_code == 404 and "error" in response.json()


def test_openapi_documents_every_endpoint(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths) == {
        "/api/health",
        "/api/methods",
        "/api/estimate",
        "/api/denoise",
        "/api/jobs/{job_id}",
        "/api/jobs/{job_id}/events",
        "/api/jobs/{job_id}/result",
        "/api/jobs/{job_id}/images/{name}",
    }
    denoise = paths["/api/denoise"]["post"]
    assert {"200", "202", "400", "413", "503"} <= set(denoise["responses"])
    assert "delete" in paths["/api/jobs/{job_id}"]


def test_estimate_gives_sigma_and_image_facts(client):
    noisy = noisy_pair(96, 96, 3)[1]
    response = client.post("/api/estimate", files=upload(noisy, fmt="TIFF", bit_depth=16))
    assert response.status_code == 200
    body = response.json()
    assert body["sigma"] == pytest.approx(25, abs=4)
    assert body | {"sigma": 0} == {
        "sigma": 0,
        "width": 96,
        "height": 96,
        "channels": 3,
        "format": "TIFF",
        "bit_depth": 16,
        "alpha": False,
    }


# ---------------------------------------------------------------- quick methods answer the file


@pytest.mark.parametrize(("fmt", "bit_depth", "channels"), [("PNG", 16, 1), ("TIFF", 16, 3), ("JPEG", 8, 3)])
def test_quick_method_answers_the_file_in_the_input_format(client, fmt, bit_depth, channels):
    clean, noisy = noisy_pair(channels=channels)
    response = client.post("/api/denoise", files=upload(noisy, clean, fmt, bit_depth), data={"method": "median"})
    assert response.status_code == 200, response.text
    media = {"PNG": "image/png", "TIFF": "image/tiff", "JPEG": "image/jpeg"}[fmt]
    assert response.headers["content-type"] == media
    image, info = decode_image(response.content)
    assert (info.format, info.bit_depth, image.shape) == (fmt, bit_depth, noisy.shape)
    assert float(response.headers["x-denoisekit-sigma"]) == pytest.approx(25, abs=5)
    assert float(response.headers["x-denoisekit-psnr"]) > 25
    assert 0 < float(response.headers["x-denoisekit-ssim"]) <= 1


def test_parameters_sigma_and_download_name(client, noisy):
    files = upload(noisy, name="../../etc/My Photo (1).png")
    response = client.post("/api/denoise", files=files, data={"method": "median", "sigma": "15", "size": "3"})
    assert response.status_code == 200
    assert response.headers["x-denoisekit-sigma"] == "15.000"
    assert response.headers["content-disposition"] == 'attachment; filename="My_Photo_1-median.png"'
    job = client.get(f"/api/jobs/{response.headers['x-denoisekit-job']}").json()
    assert job["params"] == {"size": 3} and job["sigma"] == 15 and "sigma_estimate" not in job


def test_an_empty_reference_field_means_none(client, noisy):
    files = upload(noisy) | {"reference": ("", b"", "application/octet-stream")}
    response = client.post("/api/denoise", files=files, data={"method": "median"})
    assert response.status_code == 200 and "x-denoisekit-psnr" not in response.headers


# ---------------------------------------------------------------- jobs


def test_prefer_async_makes_a_job_with_events_previews_spectra_and_result(client):
    clean, noisy = noisy_pair()
    response = client.post(
        "/api/denoise", files=upload(noisy, clean), data={"method": "nlm"}, headers={"Prefer": "respond-async"}
    )
    assert response.status_code == 202
    job = response.json()
    assert response.headers["location"] == f"/api/jobs/{job['id']}" == job["links"]["self"]
    assert job["status"] in ("queued", "running") and job["method"] == "nlm"
    stream = events(client, job["id"])
    assert stream[-1][0] == "done" and all(kind == "progress" for kind, _ in stream[:-1])
    done = stream[-1][1]
    assert done["status"] == "done" and done["sigma"] == pytest.approx(25, abs=5)
    metrics = done["metrics"]
    assert metrics["output"]["psnr"] > metrics["input"]["psnr"] + 3
    assert metrics["output"]["ssim"] > metrics["input"]["ssim"]
    names = {"input", "output", "reference", "input-spectrum", "output-spectrum", "reference-spectrum"}
    assert set(done["links"]["images"]) == names
    for name, url in done["links"]["images"].items():
        picture = client.get(url)
        assert picture.headers["content-type"] == "image/png"
        image, info = decode_image(picture.content)
        assert info.bit_depth == 8
        if "spectrum" not in name:
            assert image.shape == noisy.shape
    result = client.get(done["links"]["result"])
    assert result.status_code == 200 and decode_image(result.content)[0].shape == noisy.shape


def test_long_method_runs_as_a_job_with_a_curve(client):
    clean, noisy = noisy_pair()
    data = {"method": "web-test-fit", "steps": "30"}
    response = client.post("/api/denoise", files=upload(noisy, clean), data=data)
    assert response.status_code == 202  # a zero-shot family: a job without being asked
    stream = events(client, response.json()["id"])
    points = [p for kind, data in stream if kind == "progress" for p in data["points"]]
    done = stream[-1][1]
    assert done["status"] == "done" and done["step"] == done["total"] == 30
    assert points == done["history"][: len(points)]  # each point once, in order; "done" carries them all
    assert [p["step"] for p in done["history"]] == list(range(1, 31))
    # The reference reached the method (oracle PSNR per step), as it does for DIP.
    assert done["history"][-1] == {"step": 30, "loss": pytest.approx(1 / 30), "psnr": pytest.approx(21)}


def test_cancel_a_running_job(client, noisy):
    job = client.post("/api/denoise", files=upload(noisy), data={"method": "web-test-fit", "hold": "true"}).json()
    wait_status(client, job["id"], "running")
    cancelled = client.delete(f"/api/jobs/{job['id']}")
    assert cancelled.status_code == 200
    GATE.set()
    assert wait_final(client, job["id"])["status"] == "cancelled"
    refused = client.get(f"/api/jobs/{job['id']}/result")
    assert refused.status_code == 409 and "cancelled" in refused.json()["error"]


def test_cancel_a_queued_job_and_forget_a_finished_one(noisy):
    with make_client(max_jobs=2) as client:
        held = client.post("/api/denoise", files=upload(noisy), data={"method": "web-test-fit", "hold": "1"}).json()
        queued = client.post("/api/denoise", files=upload(noisy), data={"method": "web-test-fit"}).json()
        wait_status(client, held["id"], "running")
        assert client.delete(f"/api/jobs/{queued['id']}").json()["status"] == "cancelled"  # at once: never started
        GATE.set()
        assert wait_final(client, held["id"])["status"] == "done"
        assert client.delete(f"/api/jobs/{held['id']}").json()["status"] == "deleted"
        assert client.get(f"/api/jobs/{held['id']}").status_code == 404


def test_a_real_zero_shot_method_runs_as_a_job(client):
    noisy = noisy_pair(32, 32, 1)[1]
    data = {"method": "zs-n2n", "iterations": "2", "device": "cpu"}
    response = client.post("/api/denoise", files=upload(noisy), data=data)
    assert response.status_code == 202
    done = wait_final(client, response.json()["id"], timeout=120)
    assert done["status"] == "done", done["error"]
    assert [p["step"] for p in done["history"]] == [1, 2] and all("loss" in p for p in done["history"])


def test_zs_blend_job_shows_its_parts(client):
    noisy = noisy_pair(32, 32, 3)[1]
    data = {"method": "zs-blend", "iterations": "2", "zs_iterations": "2", "device": "cpu"}
    done = wait_final(client, client.post("/api/denoise", files=upload(noisy), data=data).json()["id"], timeout=120)
    assert done["status"] == "done", done["error"]
    assert done["panels"] == ["Pixel2Pixel", "ZS-N2N", "Blend", "Pixel2Pixel's share"]
    for index, channels in enumerate((3, 3, 3, 1)):
        picture = client.get(done["links"]["images"][f"panel-{index}"])
        assert picture.status_code == 200 and decode_image(picture.content)[0].shape == (32, 32, channels)
    assert client.get(f"/api/jobs/{done['id']}/images/panel-4").status_code == 404
    assert client.get(f"/api/jobs/{done['id']}/images/panel-x").status_code == 422


def test_failures_inside_jobs(client, noisy):
    for fail, message in (("input", "the stand-in fit refuses this image"), ("bug", "internal error: RuntimeError")):
        job = client.post("/api/denoise", files=upload(noisy), data={"method": "web-test-fit", "fail": fail}).json()
        done = wait_final(client, job["id"])
        assert done["status"] == "failed" and message in done["error"]
    # Answering at once, a late input error is a 400 and a bug a 500: JSON either way.
    for fail, status, message in (("input", 400, "refuses this image"), ("bug", 500, "internal error")):
        response = client.post("/api/denoise", files=upload(noisy), data={"method": "web-test-quick", "fail": fail})
        assert response.status_code == status and message in response.json()["error"]


def test_results_expire_after_their_time_to_live(noisy):
    with make_client(result_ttl=0.3) as client:
        response = client.post("/api/denoise", files=upload(noisy), data={"method": "median"})
        job_id = response.headers["x-denoisekit-job"]
        assert client.get(f"/api/jobs/{job_id}").status_code == 200
        time.sleep(0.5)
        gone = client.get(f"/api/jobs/{job_id}/result")
        assert gone.status_code == 404 and "expired" in gone.json()["error"]


def test_only_so_many_finished_jobs_are_kept():
    store = JobStore({"quick": Lane("quick", 1, 10)}, ttl=3600, max_finished=2)
    jobs = [store.submit("quick", None, lambda job: None) for _ in range(4)]
    for job in jobs:
        job.future.result(timeout=10)
    store.sweep()
    assert [store.get(job.id) is not None for job in jobs] == [False, False, True, True]
    store.sweep(now=time.time() + 7200)
    assert all(store.get(job.id) is None for job in jobs)
    store.shutdown()


# ---------------------------------------------------------------- busy, and served while busy


def test_a_full_queue_answers_busy(noisy):
    with make_client(max_jobs=1) as client:
        first = client.post("/api/denoise", files=upload(noisy), data={"method": "web-test-fit", "hold": "on"})
        assert first.status_code == 202
        busy = client.post("/api/denoise", files=upload(noisy), data={"method": "web-test-fit"})
        assert busy.status_code == 503 and busy.headers["retry-after"]
        assert busy.json()["error"].startswith("the server is busy")
        GATE.set()
        assert wait_final(client, first.json()["id"])["status"] == "done"


def test_lane_refuses_past_its_limit():
    lane = Lane("test", workers=1, limit=1)
    release = GATE
    lane.submit(release.wait, 10)
    with pytest.raises(Busy, match="at most 1"):
        lane.submit(print)
    release.set()
    lane.shutdown()


def test_requests_are_served_while_a_long_job_runs(client, noisy):
    job = client.post("/api/denoise", files=upload(noisy), data={"method": "web-test-fit", "hold": "true"}).json()
    wait_status(client, job["id"], "running")
    start = time.monotonic()
    assert client.get("/api/health").json()["jobs"]["running"] == 1
    quick = client.post("/api/denoise", files=upload(noisy), data={"method": "median"})
    assert quick.status_code == 200
    assert time.monotonic() - start < 10
    assert client.get(f"/api/jobs/{job['id']}").json()["status"] == "running"
    GATE.set()
    assert wait_final(client, job["id"])["status"] == "done"


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"method": "nope"}, 400, "unknown method 'nope'; choose one of: "),  # the order follows imports
        ({"method": "median", "sigma": "500"}, 400, "sigma=500 is out of range"),
        ({"method": "median", "sigma": "lots"}, 400, "sigma must be a number"),
        ({"method": "median", "bogus": "1"}, 400, "method 'median' has no parameter 'bogus'"),
        ({"method": "median", "size": "99"}, 400, "parameter size='99' must be in [1, 31]"),
        ({"method": "median", "size": "big"}, 400, "must be of type int"),
        ({"method": "wavelet", "mode": "medium"}, 400, "must be one of soft, hard"),
        ({"method": "web-test-fit", "hold": "maybe"}, 400, "must be true or false"),
        ({"method": "web-test-file", "weights": "/etc/passwd"}, 400, "cannot be set from the web"),
        ({"method": "web-test-file", "note": "x"}, 400, "cannot be set from the web"),
        ({"method": "web-test-rgb"}, 400, "does not handle 1-channel images"),
        ({"method": "web-test-missing"}, 400, "not available: it needs a package not installed"),
    ],
)
def test_bad_requests_are_refused_in_one_line(client, noisy, data, status, message):
    response = client.post("/api/denoise", files=upload(noisy), data=data)
    assert response.status_code == status
    assert list(response.json()) == ["error"] and message in response.json()["error"]


def test_contents_are_sniffed_never_trusted(client, noisy):
    fake = {"image": ("photo.png", b"<html>not an image</html>", "image/png")}
    response = client.post("/api/denoise", files=fake, data={"method": "median"})
    assert response.status_code == 400 and "not an image file" in response.json()["error"]
    # A real PNG named .jpg and declared as text is still read as the PNG it is.
    disguised = {"image": ("photo.jpg", image_bytes(noisy), "text/plain")}
    response = client.post("/api/denoise", files=disguised, data={"method": "median"})
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    truncated = {"image": ("cut.png", image_bytes(noisy)[:200], "image/png")}
    response = client.post("/api/estimate", files=truncated)
    assert response.status_code == 400 and "corrupt or truncated" in response.json()["error"]


def test_missing_fields_and_a_mismatched_reference(client, noisy):
    missing = client.post("/api/denoise", data={"method": "median"})
    assert missing.status_code == 422 and missing.json() == {"error": "image: Field required"}
    other = noisy_pair(32, 32)[0]
    files = upload(noisy) | {"reference": ("ref.png", image_bytes(other), "image/png")}
    response = client.post("/api/denoise", files=files, data={"method": "median"})
    assert response.status_code == 400 and response.json()["error"] == "reference is 32x32x1, but the image is 56x48x1"


def test_unknown_jobs_and_images(client, noisy):
    for path in ("/api/jobs/nope", "/api/jobs/nope/events", "/api/jobs/nope/result", "/api/jobs/nope/images/input"):
        response = client.get(path)
        assert response.status_code == 404 and "no job 'nope'" in response.json()["error"]
    assert client.delete("/api/jobs/nope").status_code == 404
    job_id = client.post("/api/denoise", files=upload(noisy), data={"method": "median"}).headers["x-denoisekit-job"]
    assert client.get(f"/api/jobs/{job_id}/images/reference").status_code == 404  # none was given
    bad = client.get(f"/api/jobs/{job_id}/images/..%2F..%2Fetc%2Fpasswd")
    assert bad.status_code in (404, 422) and "error" in bad.json()
    assert client.get(f"/api/jobs/{job_id}/images/secret").status_code == 422


def test_a_missing_gpu_is_refused_before_the_job(client, noisy):
    if pytest.importorskip("torch").cuda.is_available():
        pytest.skip("this machine has a GPU: asking for one is no mistake here")
    response = client.post("/api/denoise", files=upload(noisy), data={"method": "web-test-fit", "device": "cuda"})
    assert response.status_code == 202  # the stand-in takes no device: the field is ignored
    fit = next(m for m in list_methods() if get_method(m).uses_device)
    response = client.post("/api/denoise", files=upload(noisy), data={"method": fit, "device": "cuda"})
    assert response.status_code == 400 and "no CUDA GPU" in response.json()["error"]


# ---------------------------------------------------------------- size limits


def test_upload_over_the_byte_limit_is_413(noisy):
    with make_client(max_upload_bytes=4096) as client:
        big = {"image": ("big.png", b"\x89PNG\r\n\x1a\n" + bytes(10_000), "image/png")}
        response = client.post("/api/denoise", files=big, data={"method": "median"})
        assert response.status_code == 413 and response.json()["error"].startswith("upload too large")
        assert client.post("/api/denoise", files=upload(noisy), data={"method": "median"}).status_code == 200


def _asgi_post(app, headers, chunks):
    """POST ``chunks`` as a streamed body straight to the ASGI app; returns (status, body, chunks read)."""
    read, sent = 0, []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/denoise",
        "raw_path": b"/api/denoise",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test"), (b"content-type", b"multipart/form-data; boundary=B"), *headers],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 80),
    }

    async def receive():
        nonlocal read
        if read < len(chunks):
            read += 1
            return {"type": "http.request", "body": chunks[read - 1], "more_body": read < len(chunks)}
        await asyncio.sleep(60)  # a client that sent everything and waits
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    asyncio.run(asyncio.wait_for(app(scope, receive, send), 30))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body), read


def test_a_declared_oversize_body_is_refused_unread():
    app = create_app(WebConfig(max_upload_bytes=2**20))
    status, body, read = _asgi_post(app, [(b"content-length", b"10000000000")], [b"x" * 65536] * 4)
    assert (status, read) == (413, 0) and body == {"error": "upload too large: at most 1.0 MiB per request"}


def test_a_streamed_oversize_body_is_cut_off_as_it_arrives():
    app = create_app(WebConfig(max_upload_bytes=2**20))
    head = b'--B\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n'
    chunks = [head] + [b"x" * 65536] * 64  # 4 MiB, no Content-Length: chunked
    status, body, read = _asgi_post(app, [], chunks)
    assert status == 413 and "upload too large" in body["error"]
    assert read <= 18  # stopped just past 1 MiB, long before the 65 chunks


def test_a_real_server_answers_413_before_the_body_is_sent():
    with live_server(create_app(WebConfig(max_upload_bytes=2**20))) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                b"POST /api/denoise HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10000000000\r\n"
                b"Content-Type: multipart/form-data; boundary=B\r\n\r\n"
            )
            answer = b""
            while chunk := sock.recv(4096):  # the server closes the connection after its answer
                answer += chunk
    answer = answer.decode()
    assert answer.startswith("HTTP/1.1 413")
    assert answer.endswith('{"error":"upload too large: at most 1.0 MiB per request"}')


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` × ``height`` pixels: a decompression bomb's shape."""
    data = bytearray(image_bytes(np.zeros((1, 1, 1), np.float32)))
    data[16:24] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    return bytes(data)


def test_images_over_the_pixel_limit_are_413_before_decoding(noisy):
    with make_client(max_pixels=1000) as client:
        response = client.post("/api/denoise", files=upload(noisy), data={"method": "median"})
        assert response.status_code == 413
        assert re.search(r"56x48 = 2,688 pixels, over the limit of 1,000", response.json()["error"])
        for size in ((30_000, 30_000), (200_000, 200_000)):  # below and above Pillow's own bomb limit
            bomb = {"image": ("bomb.png", _png_claiming(*size), "image/png")}
            response = client.post("/api/estimate", files=bomb)
            assert response.status_code == 413, response.text


# ---------------------------------------------------------------- the serve command


def test_serve_command_binds_loopback_and_passes_limits(monkeypatch, capsys):
    import uvicorn

    served = []
    monkeypatch.setattr(
        uvicorn.Server, "run", lambda server, sockets: served.append((server.config, sockets[0].getsockname()))
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert cli.main(["serve", "--port", str(port), "--max-upload-mb", "2", "--max-jobs", "3"]) == 0
    settings, address = served[0]
    assert address == ("127.0.0.1", port)
    config = settings.app.state.config
    assert (config.max_upload_bytes, config.max_jobs) == (2 * 2**20, 3)
    assert f"serving http://127.0.0.1:{port}/" in capsys.readouterr().err
    assert cli.main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 0
    assert "reachable from other machines" in capsys.readouterr().err


def test_serve_command_says_when_the_port_is_taken(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli.main(["serve", "--port", str(port)]) == 2
    assert capsys.readouterr().err.startswith(f"denoisekit: error: cannot serve on 127.0.0.1:{port}: ")


def test_serve_command_refuses_absurd_limits(capsys):
    assert cli.main(["serve", "--max-jobs", "0"]) == 2
    assert capsys.readouterr().err.strip() == "denoisekit: error: web setting max_jobs=0 must be positive"


def test_nothing_else_imports_the_web_package():
    import subprocess
    import sys

    code = (
        "import sys, denoisekit, denoisekit.cli, denoisekit.api; print(any('denoisekit.web' in m for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"
