// The studio page: pick a model, generate or edit, poll the job, show and download the grid. No external code.
"use strict";
const $ = (id) => document.getElementById(id);
let models = [];
let maskDirty = false;
let uploadedImage = null;

async function api(path, options) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

function currentModel() { return models.find((m) => m.name === $("model").value); }

function fillClasses() {
  const m = currentModel();
  const select = $("class-label");
  select.innerHTML = '<option value="">random</option>';
  if (!m || !m.numClasses) { select.disabled = true; return; }
  select.disabled = false;
  for (let i = 0; i < m.numClasses; i++) {
    const option = document.createElement("option");
    option.value = i;
    option.textContent = m.classNames ? `${i}: ${m.classNames[i]}` : `${i}`;
    select.appendChild(option);
  }
  resetMask();
}

async function loadModels() {
  models = await api("/api/models");
  $("model").innerHTML = models.map((m) => `<option value="${m.name}">${m.name} (${m.imageSize}px, ${m.source})</option>`).join("");
  fillClasses();
}

function showError(message) { $("error").textContent = message || ""; }

let currentJob = null;

async function follow(job) {
  $("progress").value = 0;
  $("status").textContent = `${job.kind}: queued`;
  currentJob = job.id;
  $("cancel").disabled = false;
  try { await poll(job); } finally { currentJob = null; $("cancel").disabled = true; }
}

async function poll(job) {
  for (;;) {
    job = await api(`/api/jobs/${job.id}`);
    $("progress").max = Math.max(job.total, 1);
    $("progress").value = job.done;
    $("status").textContent = `${job.kind}: ${job.status}`;
    if (job.status === "cancelled") return;
    if (job.status === "done") {
      $("result").src = job.grid + `?t=${Date.now()}`;
      $("download").href = job.grid;
      $("download").setAttribute("download", `${job.kind}-${job.id}.png`);
      $("note").textContent = job.note || "";
      $("progress").value = $("progress").max;
      return;
    }
    if (job.status === "failed") throw new Error(job.error);
    await new Promise((r) => setTimeout(r, 150));
  }
}

async function run(action) {
  showError("");
  $("generate").disabled = $("edit").disabled = true;
  try { await action(); } catch (e) { showError(e.message); $("status").textContent = "failed"; }
  finally { $("generate").disabled = $("edit").disabled = false; }
}

$("generate").addEventListener("click", () => run(async () => {
  const label = $("class-label").value;
  const body = {
    model: $("model").value,
    sampler: $("sampler").value || null,
    steps: $("steps").value ? Number($("steps").value) : null,
    ts: $("ts").value ? $("ts").value.split(",").map(Number) : null,
    seed: Number($("seed").value || 42),
    count: Number($("count").value || 8),
    classLabels: label === "" ? null : [Number(label)],
  };
  const job = await api("/api/generate", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  await follow(job);
}));

// ---- mask painting: the canvas shows the uploaded image; strokes are kept in a separate model-sized mask --------
const maskCanvas = $("mask-canvas");
const paint = maskCanvas.getContext("2d");
let mask = document.createElement("canvas");

function resetMask() {
  const m = currentModel();
  const size = m ? m.imageSize : 32;
  mask.width = mask.height = size;
  const g = mask.getContext("2d");
  g.fillStyle = "#000"; g.fillRect(0, 0, size, size);
  maskDirty = false;
  redraw();
}

function redraw() {
  paint.imageSmoothingEnabled = false;
  paint.clearRect(0, 0, maskCanvas.width, maskCanvas.height);
  if (uploadedImage) paint.drawImage(uploadedImage, 0, 0, maskCanvas.width, maskCanvas.height);
  paint.globalAlpha = 0.6;
  paint.drawImage(mask, 0, 0, maskCanvas.width, maskCanvas.height);
  paint.globalAlpha = 1;
}

let drawing = false;
function stroke(event) {
  const rect = maskCanvas.getBoundingClientRect();
  const scale = mask.width / rect.width;
  const x = (event.clientX - rect.left) * scale, y = (event.clientY - rect.top) * scale;
  const g = mask.getContext("2d");
  g.fillStyle = "#fff";
  g.beginPath(); g.arc(x, y, Math.max(1, mask.width / 16), 0, 2 * Math.PI); g.fill();
  maskDirty = true;
  redraw();
}
maskCanvas.addEventListener("pointerdown", (e) => { drawing = true; stroke(e); });
maskCanvas.addEventListener("pointermove", (e) => { if (drawing) stroke(e); });
window.addEventListener("pointerup", () => { drawing = false; });
$("clear-mask").addEventListener("click", resetMask);
$("image").addEventListener("change", () => {
  const file = $("image").files[0];
  if (!file) return;
  const img = new Image();
  img.onload = () => { uploadedImage = img; redraw(); };
  img.src = URL.createObjectURL(file);
});

$("edit").addEventListener("click", () => run(async () => {
  const form = new FormData();
  form.append("model", $("model").value);
  form.append("task", $("task").value);
  form.append("seed", $("seed").value || "42");
  if ($("class-label").value !== "") form.append("classLabel", $("class-label").value);
  if ($("image").files[0]) form.append("image", $("image").files[0]);
  if ($("mask-file").files[0]) form.append("mask", $("mask-file").files[0]);
  else if (maskDirty && $("task").value === "inpaint") form.append("mask", await new Promise((r) => mask.toBlob(r, "image/png")), "mask.png");
  const job = await api("/api/edit", { method: "POST", body: form });
  await follow(job);
}));

// Stops the followed job: a queued one at once, a running one before its next network evaluation.
$("cancel").addEventListener("click", async () => {
  if (!currentJob) return;
  try { await api(`/api/jobs/${currentJob}`, { method: "DELETE" }); } catch (e) { showError(e.message); }
});

$("model").addEventListener("change", fillClasses);
loadModels().catch((e) => showError(`could not list models: ${e.message}`));
