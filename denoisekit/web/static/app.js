// The denoisekit page: plain JavaScript over the JSON API (see /openapi.json), no build step.
// Forms are built from /api/methods, so a method registered in Python appears here by itself.

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
};

const state = {
  methods: [],
  limits: null,
  file: null,        // the noisy image (a File)
  reference: null,   // the clean reference (a File) or null
  job: null,         // the last job's JSON
  events: null,      // its EventSource while it runs
  points: [],        // its curve
  series: null,      // the curve's metric shown
  clock: null,       // {time, step} at the first step seen, for the time left
  view: { name: "compare", scale: 1, x: 0, y: 0, fitted: true },
  split: 0.5,        // the compare slider, as a fraction of the width
  previewUrl: null,  // the chosen file, for the browser to show before the server has read it
};

// ---------------------------------------------------------------- API helpers

async function api(path, options = {}) {
  const response = await fetch(path, options);
  const isJson = (response.headers.get("content-type") || "").includes("json");
  const body = isJson ? await response.json() : null;
  if (!response.ok) throw new Error(body && body.error ? body.error : `${response.status} ${response.statusText}`);
  return body;
}

function say(text, kind = "") {
  const message = $("message");
  message.textContent = text;
  message.className = kind;
}

const fmt = (value, digits = 2) => (value === null || value === undefined ? "–" : Number(value).toFixed(digits));
const bytes = (n) => (n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${Math.ceil(n / 1024)} KiB`);

// ---------------------------------------------------------------- start

async function start() {
  wireInputs();
  wireViewer();
  try {
    const [health, methods] = await Promise.all([api("/api/health"), api("/api/methods")]);
    state.limits = health.limits;
    state.methods = methods;
    $("server").textContent = `v${health.version}`;
    $("limits").textContent =
      `PNG, JPEG, TIFF or BMP · 8 or 16 bit · up to ${bytes(health.limits.max_upload_bytes)}, ` +
      `${(health.limits.max_pixels / 1e6).toFixed(0)} megapixels`;
    buildMethodList();
    document.body.dataset.ready = "true";
    $("run").disabled = !state.file;
  } catch (error) {
    say(`Cannot reach the server: ${error.message}`, "error");
  }
}

// ---------------------------------------------------------------- method form

function buildMethodList() {
  const select = $("method");
  const families = [...new Set(state.methods.map((m) => m.family))];
  for (const family of families) {
    const group = el("optgroup", { label: family });
    for (const m of state.methods.filter((m) => m.family === family)) {
      const note = m.unavailable ? " (unavailable)" : m.long ? " · job" : "";
      group.append(el("option", { value: m.name, textContent: m.name + (m.default ? " (default)" : "") + note,
        disabled: Boolean(m.unavailable), title: m.unavailable || m.summary }));
    }
    select.append(group);
  }
  const preferred = state.methods.find((m) => m.default && !m.unavailable) || state.methods.find((m) => !m.unavailable);
  if (preferred) select.value = preferred.name;
  select.addEventListener("change", showMethod);
  showMethod();
}

const currentMethod = () => state.methods.find((m) => m.name === $("method").value);

function showMethod() {
  const method = currentMethod();
  if (!method) return;
  const channels = method.channels.length === 2 ? "" : ` · ${method.channels.join("/")}-channel images only`;
  const job = method.long ? " · runs as a job with live progress" : "";
  $("method-summary").textContent = method.summary + channels + job;
  $("sigma-row").hidden = !method.uses_sigma;
  $("device-row").hidden = !method.uses_device;
  const box = $("params");
  box.replaceChildren();
  for (const p of method.params) box.append(paramField(p));
}

function paramField(p) {
  const id = `param-${p.name}`;
  let input;
  if (p.choices) {
    input = el("select", { id });
    if (p.default === null) input.append(el("option", { value: "", textContent: "auto" }));
    for (const choice of p.choices) input.append(el("option", { value: choice, textContent: choice }));
    if (p.default !== null) input.value = p.default;
  } else if (p.type === "bool") {
    input = el("input", { id, type: "checkbox", checked: Boolean(p.default) });
  } else {
    input = el("input", { id, type: "number", step: p.type === "int" ? "1" : "any", placeholder: "auto" });
    if (p.low !== null) input.min = p.low;
    if (p.high !== null) input.max = p.high;
    if (p.default !== null) input.value = p.default;
  }
  input.dataset.param = p.name;
  input.dataset.type = p.type;
  const range = p.low !== null && p.high !== null ? ` [${p.low}, ${p.high}]` : "";
  return el("div", { className: "field" },
    el("label", { htmlFor: id, className: "label", textContent: p.name }),
    input,
    el("small", { className: "muted help", textContent: p.help + range }));
}

function formData() {
  const method = currentMethod();
  const data = new FormData();
  data.append("image", state.file);
  data.append("method", method.name);
  const given = document.querySelector('input[name="sigma-mode"]:checked').value === "given";
  if (method.uses_sigma) data.append("sigma", given ? $("sigma").value : "estimate");
  if (method.uses_device) data.append("device", $("device").value);
  if (state.reference) data.append("reference", state.reference);
  for (const input of $("params").querySelectorAll("[data-param]")) {
    const value = input.dataset.type === "bool" ? String(input.checked) : input.value.trim();
    if (value !== "") data.append(input.dataset.param, value);
  }
  return data;
}

// ---------------------------------------------------------------- choosing files

function wireInputs() {
  $("file").addEventListener("change", (e) => e.target.files[0] && chooseImage(e.target.files[0]));
  $("reference").addEventListener("change", (e) => e.target.files[0] && chooseReference(e.target.files[0]));
  $("ref-clear").addEventListener("click", () => chooseReference(null));
  for (const [zone, choose] of [[$("drop"), chooseImage], [$("ref-drop"), chooseReference]]) {
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      e.stopPropagation();  // the page's own drop handler would take it as the noisy image
      zone.classList.remove("over");
      if (e.dataTransfer.files[0]) choose(e.dataTransfer.files[0]);
    });
    zone.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); zone.querySelector("input").click(); }
    });
  }
  // Dropping anywhere else on the page also means "this is the noisy image".
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => {
    e.preventDefault();
    if (e.dataTransfer.files[0]) chooseImage(e.dataTransfer.files[0]);
  });
  $("run").addEventListener("click", run);
  $("cancel").addEventListener("click", cancel);
}

function tooLarge(file) {
  return state.limits && file.size > state.limits.max_upload_bytes
    ? `${file.name} is ${bytes(file.size)}; this server takes at most ${bytes(state.limits.max_upload_bytes)}`
    : null;
}

async function chooseImage(file) {
  const problem = tooLarge(file);
  if (problem) return say(problem, "error");
  abandon();
  state.file = file;
  state.job = null;
  $("results").hidden = true;
  showParts({});
  $("curve-box").hidden = true;
  $("run").disabled = !state.methods.length;
  say("");
  if (state.previewUrl) URL.revokeObjectURL(state.previewUrl);
  state.previewUrl = URL.createObjectURL(file);
  delete $("before").dataset.server;
  showImages({ before: state.previewUrl, after: null });  // PNG/JPEG show at once; TIFF waits for the server
  const info = $("file-info");
  info.hidden = false;
  info.replaceChildren(el("dt", { textContent: "file" }), el("dd", { textContent: `${file.name} · ${bytes(file.size)}` }));
  $("sigma-estimate").textContent = "(measuring…)";
  try {
    const data = new FormData();
    data.append("image", file);
    const facts = await api("/api/estimate", { method: "POST", body: data });
    if (state.file !== file) return;  // another image was chosen meanwhile
    const colour = facts.channels === 1 ? "gray" : "colour";
    info.append(
      el("dt", { textContent: "image" }),
      el("dd", { textContent: `${facts.width} × ${facts.height} · ${colour}${facts.alpha ? " + alpha" : ""} · ` +
        `${facts.format} ${facts.bit_depth}-bit` }),
      el("dt", { textContent: "noise" }),
      el("dd", { className: "sigma", textContent: `σ ≈ ${fmt(facts.sigma, 1)} (estimated)` }));
    $("sigma-estimate").textContent = `(≈ ${fmt(facts.sigma, 1)})`;
    $("sigma").value = fmt(facts.sigma, 1);
  } catch (error) {
    $("sigma-estimate").textContent = "";
    say(error.message, "error");
    $("run").disabled = true;
  }
}

function chooseReference(file) {
  const problem = file && tooLarge(file);
  if (problem) return say(problem, "error");
  state.reference = file;
  $("reference").value = "";
  $("ref-label").replaceChildren(file
    ? el("span", { textContent: `Reference: ${file.name}` })
    : el("span", {}, el("strong", { textContent: "Clean reference" }), " (optional): adds PSNR and SSIM"));
  $("ref-clear").hidden = !file;
  $("ref-drop").classList.toggle("chosen", Boolean(file));
}

// ---------------------------------------------------------------- running a job

async function run() {
  if (!state.file) return;
  stopWatching();
  state.points = [];
  state.series = null;
  state.clock = null;
  $("run").disabled = true;
  $("results").hidden = true;
  showParts({});
  $("curve-box").hidden = true;
  say("Uploading…");
  showProgress(true, null);
  try {
    // Every run from the page is a job, whatever the method: progress, and a cancel button, for all.
    const job = await api("/api/denoise", { method: "POST", body: formData(), headers: { Prefer: "respond-async" } });
    state.job = job;
    say(job.long ? "Fitting… (this method runs for a while; watch the curve)" : "Denoising…");
    watch(job);
  } catch (error) {
    showProgress(false);
    $("run").disabled = false;
    say(error.message, "error");
  }
}

function watch(job) {
  const events = new EventSource(job.links.events);
  state.events = events;
  events.addEventListener("progress", (e) => update(JSON.parse(e.data)));
  events.addEventListener("done", (e) => {
    stopWatching();
    finish(JSON.parse(e.data));
  });
  events.onerror = () => {
    // The stream broke (server restarted, proxy timeout...): ask for the state instead.
    stopWatching();
    poll(job.id);
  };
}

async function poll(id) {
  try {
    const job = await api(`/api/jobs/${id}`);
    if (["done", "failed", "cancelled"].includes(job.status)) return finish(job);
    state.points = job.history || [];
    update({ ...job, points: [] });
    setTimeout(() => poll(id), 1000);
  } catch (error) {
    finish({ status: "failed", error: error.message });
  }
}

// A new image makes the running job pointless: stop watching it, and stop it on the server too.
function abandon() {
  const job = state.job;
  stopWatching();
  if (job && job.id && !["done", "failed", "cancelled"].includes(job.status)) {
    fetch(`/api/jobs/${job.id}`, { method: "DELETE" });
  }
  showProgress(false);
}

function stopWatching() {
  if (state.events) state.events.close();
  state.events = null;
}

function update(job) {
  state.job = { ...state.job, ...job };
  showProgress(true, job);
  if (job.points && job.points.length) {
    state.points.push(...job.points);
    drawCurve();
  }
  if (job.links && job.links.images.input && !$("before").dataset.server) {
    showImages({ before: job.links.images.input, after: null });
    $("before").dataset.server = "1";
  }
}

function showProgress(on, job = null) {
  $("progress").hidden = !on;
  $("cancel").hidden = !on;
  if (!on) return;
  const bar = $("bar");
  if (job && job.total > 0) {
    bar.max = job.total;
    bar.value = job.step;
    // The time left from this page's own clock: the server's may differ.
    if (!state.clock) state.clock = { time: performance.now(), step: job.step };
    const done = job.step - state.clock.step;
    const left = done > 0 ? ((performance.now() - state.clock.time) / 1000 / done) * (job.total - job.step) : null;
    $("progress-text").textContent = `${job.step} / ${job.total}` + (left !== null ? ` · about ${Math.ceil(left)} s left` : "");
  } else {
    bar.removeAttribute("value");  // indeterminate: a one-pass method reports no steps
    $("progress-text").textContent = job && job.status === "queued" ? "queued…" : "";
  }
}

async function cancel() {
  if (!state.job || !state.job.id) return;
  say("Cancelling…");
  try {
    await api(`/api/jobs/${state.job.id}`, { method: "DELETE" });
  } catch (error) {
    say(error.message, "error");
  }
}

function finish(job) {
  state.job = { ...state.job, ...job };
  showProgress(false);
  $("run").disabled = !state.file;
  if (job.history && job.history.length) {
    state.points = job.history;
    drawCurve();
  }
  if (job.status === "cancelled") return say("Cancelled.", "warn");
  if (job.status !== "done") return say(job.error || `The job ${job.status}.`, "error");
  say(`Done in ${fmt(job.seconds, 2)} s.`, "ok");
  showResult(job);
}

// ---------------------------------------------------------------- results

function showResult(job) {
  const images = job.links.images;
  delete $("before").dataset.server;
  showImages({ before: images.input, after: images.output, reference: images.reference });
  showSpectra(images);
  showParts(job);
  const stat = (name, value, note = "", className = "") =>
    el("div", { className: "stat" }, el("span", { className: "name", textContent: name }),
      el("span", { className: `value ${className}`, textContent: value }), el("span", { className: "note", textContent: note }));
  const stats = [stat("method", job.method, job.family)];
  if (job.sigma !== null && job.sigma !== undefined) {
    stats.push(stat("σ", fmt(job.sigma, 1), job.sigma_estimate !== undefined ? "estimated" : "given"));
  }
  stats.push(stat("time", `${fmt(job.seconds, 2)} s`));
  if (job.metrics) {
    const { input, output } = job.metrics;
    const gain = output.psnr - input.psnr;
    stats.push(
      stat("PSNR", `${fmt(output.psnr)} dB`, `noisy ${fmt(input.psnr)} · ${gain >= 0 ? "+" : ""}${fmt(gain)} dB`, "psnr"),
      stat("SSIM", fmt(output.ssim, 4), `noisy ${fmt(input.ssim, 4)}`, "ssim"));
  } else {
    stats.push(stat("PSNR / SSIM", "–", "add a clean reference to measure"));
  }
  $("metrics").replaceChildren(...stats);
  const link = $("download");
  link.href = job.links.result;
  link.download = job.download;
  link.textContent = `Download ${job.format} · ${job.bit_depth}-bit`;
  link.title = job.download;
  $("results").hidden = false;
  if (state.view.fitted) fit();  // the result bar took some of the viewer's height
}

function showSpectra(images) {
  const box = $("spectra");
  box.replaceChildren();
  for (const [name, title] of [["input", "noisy"], ["output", "denoised"], ["reference", "reference"]]) {
    const url = images[`${name}-spectrum`];
    if (url) box.append(el("figure", {}, el("img", { src: url, alt: `${title} spectrum` }), el("figcaption", { textContent: title })));
  }
}

function showParts(job) {
  const titles = job.panels || [];
  $("parts").replaceChildren(...titles.map((title, index) =>
    el("figure", {}, el("img", { src: job.links.images[`panel-${index}`], alt: title }), el("figcaption", { textContent: title }))));
  $("parts-tab").hidden = !titles.length;
  if (!titles.length && state.view.name === "parts") selectView("compare");
}

// ---------------------------------------------------------------- the curve

function drawCurve() {
  const points = state.points;
  const keys = [...new Set(points.flatMap((p) => Object.keys(p)))].filter((k) => k !== "step");
  if (!keys.length) return;
  $("curve-box").hidden = false;
  if (!keys.includes(state.series)) state.series = keys.includes("psnr") ? "psnr" : keys[0];
  const chips = $("series");
  if (chips.dataset.keys !== keys.join()) {
    chips.dataset.keys = keys.join();
    chips.replaceChildren(...keys.map((k) => el("button", { type: "button", textContent: k, onclick: () => { state.series = k; drawCurve(); } })));
  }
  for (const chip of chips.children) chip.classList.toggle("on", chip.textContent === state.series);

  const canvas = $("curve");
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 320;
  const height = canvas.clientHeight || 150;
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  const g = canvas.getContext("2d");
  g.scale(ratio, ratio);
  g.clearRect(0, 0, width, height);
  const data = points.filter((p) => Number.isFinite(p[state.series])).map((p) => [p.step, p[state.series]]);
  if (!data.length) return;
  const values = data.map(([, v]) => v);
  let low = Math.min(...values);
  let high = Math.max(...values);
  // Losses and criteria span decades: a log axis shows their shape.
  const log = low > 0 && high / low > 50;
  const f = log ? Math.log10 : (v) => v;
  if (f(high) - f(low) < 1e-9) { low -= 1; high += 1; }
  const steps = data.map(([s]) => s);
  const x0 = 44, x1 = width - 8, y0 = 8, y1 = height - 20;
  const sx = (s) => x0 + ((s - steps[0]) / Math.max(1, steps[steps.length - 1] - steps[0])) * (x1 - x0);
  const sy = (v) => y1 - ((f(v) - f(low)) / (f(high) - f(low))) * (y1 - y0);
  g.font = "11px system-ui, sans-serif";
  g.fillStyle = "#6b7280";
  g.strokeStyle = "#e5e7eb";
  g.beginPath();
  g.moveTo(x0, y0); g.lineTo(x0, y1); g.lineTo(x1, y1);
  g.stroke();
  const short = (v) => String(Number(v.toPrecision(3)));
  g.textAlign = "right";
  g.fillText(short(high), x0 - 4, y0 + 8);
  g.fillText(short(low), x0 - 4, y1);
  g.textAlign = "left";
  g.fillText(`step ${steps[0]}`, x0, height - 5);
  g.textAlign = "right";
  g.fillText(`${steps[steps.length - 1]}${log ? " · log scale" : ""}`, x1, height - 5);
  g.strokeStyle = "#2563eb";
  g.lineWidth = 1.5;
  g.beginPath();
  data.forEach(([s, v], i) => (i ? g.lineTo(sx(s), sy(v)) : g.moveTo(sx(s), sy(v))));
  g.stroke();
  const [lastStep, lastValue] = data[data.length - 1];
  g.fillStyle = "#2563eb";
  g.beginPath();
  g.arc(sx(lastStep), sy(lastValue), 3, 0, 2 * Math.PI);
  g.fill();
  canvas.title = `${state.series} at step ${lastStep}: ${lastValue.toPrecision(5)}`;
}

// ---------------------------------------------------------------- viewer: compare, side by side, zoom

function showImages({ before, after, reference = null }) {
  $("empty").hidden = true;
  $("before").onload = () => (state.view.fitted ? fit() : applyView());
  $("before").onerror = () => {
    if (!$("before").dataset.server) say("Your browser cannot show this file; its preview appears once the server has read it.");
  };
  $("before").src = before;
  $("after").hidden = !after;
  $("after-tag").hidden = !after;
  $("handle").hidden = !after;
  if (after) $("after").src = after;
  const panes = $("view-side");
  panes.replaceChildren();
  for (const [title, src] of [["noisy", before], ["denoised", after], ["reference", reference]]) {
    if (!src) continue;
    panes.append(el("div", { className: "pane" },
      el("span", { className: "tag left", textContent: title }),
      el("div", { className: "viewport" }, el("img", { className: "zoomable", src, alt: title }))));
  }
  selectView(state.view.name);
}

function selectView(name) {
  state.view.name = name;
  for (const tab of document.querySelectorAll(".tabs [data-view]")) tab.setAttribute("aria-selected", String(tab.dataset.view === name));
  const started = $("empty").hidden;
  for (const view of ["compare", "side", "spectra", "parts"]) $(`view-${view}`).hidden = !started || view !== name;
  document.querySelector(".zoom").hidden = name === "spectra" || name === "parts";
  if (state.view.fitted) fit(); else applyView();
}

const activeViewport = () => (state.view.name === "side" ? document.querySelector("#view-side .viewport") : $("compare"));

function fit() {
  const image = $("before");
  const viewport = activeViewport();
  if (!viewport || !image.naturalWidth) return;
  const { clientWidth: w, clientHeight: h } = viewport;
  const scale = Math.min(w / image.naturalWidth, h / image.naturalHeight);
  Object.assign(state.view, { scale, x: (w - image.naturalWidth * scale) / 2, y: (h - image.naturalHeight * scale) / 2, fitted: true });
  applyView();
}

function zoomAt(factor, cx, cy) {
  const view = state.view;
  const scale = Math.min(32, Math.max(0.05, view.scale * factor));
  view.x = cx - ((cx - view.x) * scale) / view.scale;
  view.y = cy - ((cy - view.y) * scale) / view.scale;
  view.scale = scale;
  view.fitted = false;
  applyView();
}

function applyView() {
  const { scale, x, y } = state.view;
  for (const image of document.querySelectorAll(".zoomable")) {
    image.style.transform = `translate(${x}px, ${y}px) scale(${scale})`;
    image.classList.toggle("pixelated", scale >= 2);
  }
  $("zoom-level").textContent = `${Math.round(scale * 100)}%`;
  const viewport = $("compare");
  $("after-layer").style.clipPath = `inset(0 0 0 ${state.split * viewport.clientWidth}px)`;
  $("handle").style.left = `${state.split * 100}%`;
  $("handle").setAttribute("aria-valuenow", String(Math.round(state.split * 100)));
}

function wireViewer() {
  for (const tab of document.querySelectorAll(".tabs [data-view]")) tab.addEventListener("click", () => selectView(tab.dataset.view));
  const centre = () => {
    const v = activeViewport();
    return [v.clientWidth / 2, v.clientHeight / 2];
  };
  $("zoom-in").addEventListener("click", () => zoomAt(1.5, ...centre()));
  $("zoom-out").addEventListener("click", () => zoomAt(1 / 1.5, ...centre()));
  $("zoom-fit").addEventListener("click", fit);
  $("zoom-one").addEventListener("click", () => zoomAt(1 / state.view.scale, ...centre()));
  window.addEventListener("resize", () => (state.view.fitted ? fit() : applyView()));

  // Every viewport (compare, and each side-by-side pane) zooms and pans the same shared view.
  const viewer = document.querySelector(".viewer");
  viewer.addEventListener("wheel", (e) => {
    const viewport = e.target.closest(".viewport");
    if (!viewport) return;
    e.preventDefault();
    const box = viewport.getBoundingClientRect();
    zoomAt(Math.exp(-e.deltaY * 0.0015), e.clientX - box.left, e.clientY - box.top);
  }, { passive: false });
  let drag = null;
  viewer.addEventListener("pointerdown", (e) => {
    const viewport = e.target.closest(".viewport");
    if (!viewport || e.button !== 0) return;
    const onHandle = e.target === $("handle");
    drag = { mode: onHandle ? "split" : "pan", x: e.clientX, y: e.clientY, box: viewport.getBoundingClientRect() };
    e.preventDefault();  // no native image drag, no text selection
    e.target.setPointerCapture(e.pointerId);
    viewport.classList.add("dragging");
  });
  viewer.addEventListener("pointermove", (e) => {
    if (!drag) return;
    if (drag.mode === "split") {
      state.split = Math.min(1, Math.max(0, (e.clientX - drag.box.left) / drag.box.width));
    } else {
      state.view.x += e.clientX - drag.x;
      state.view.y += e.clientY - drag.y;
      state.view.fitted = false;
    }
    drag.x = e.clientX;
    drag.y = e.clientY;
    applyView();
  });
  const stop = () => {
    drag = null;
    for (const v of document.querySelectorAll(".viewport.dragging")) v.classList.remove("dragging");
  };
  viewer.addEventListener("pointerup", stop);
  viewer.addEventListener("pointercancel", stop);
  $("handle").addEventListener("keydown", (e) => {
    const delta = { ArrowLeft: -0.05, ArrowRight: 0.05 }[e.key];
    if (delta === undefined) return;
    e.preventDefault();
    state.split = Math.min(1, Math.max(0, state.split + delta));
    applyView();
  });
}

start();
