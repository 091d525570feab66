"""The web export's page: plain HTML, CSS and JavaScript, no framework.

It prepares an image exactly as the application does, so the page's probabilities equal
`transfer-gui predict`'s: Pillow's bilinear resize of the shorter side (antialiased: a
triangle filter widened by the scale, 8-bit fixed-point coefficients, rounding and clipping
as Pillow does, rows then columns; a large reduction first averages blocks, as Pillow's
`reducing_gap` does), then the centred square (torchvision's offset, Python's
rounding), values divided by 255. The model normalises by itself."""

from __future__ import annotations

import html
import json

SCRIPT = r"""
"use strict";
const TG = window.TG || (window.TG = {});
TG.results = [];
const $ = (id) => document.getElementById(id);
const TOP_K = 5;
let session = null;

function say(text) { $("status").textContent = text; }

function bytesOf(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

async function start() {
  if (typeof ort === "undefined") {
    say(FROM_CDN ? "The runtime (onnxruntime-web) could not be loaded from " + CDN +
        ": this page needs a network connection (export with --ort-web DIR to work offline)."
        : "The runtime (onnxruntime-web) did not load: is ort.wasm.min.js beside this page?");
    return;
  }
  ort.env.wasm.numThreads = 1;  // threads need a cross-origin-isolated server
  ort.env.wasm.proxy = false;
  if (TG.wasm) {  // file:// pages may not fetch the .wasm: it came in ort-wasm.js
    ort.env.wasm.wasmBinary = bytesOf(TG.wasm.binary).buffer;
    // the glue module resolves the .wasm's address against its own, which a blob: address
    // cannot be a base for: it resolves against the page's instead (never fetched)
    const text = TG.wasm.glue.replaceAll("import.meta.url", JSON.stringify(location.href));
    const glue = new Blob([text], {type: "text/javascript"});
    ort.env.wasm.wasmPaths = {mjs: URL.createObjectURL(glue)};
  } else {
    ort.env.wasm.wasmPaths = CDN;
  }
  try {
    session = await ort.InferenceSession.create(bytesOf(TG.model.onnx),
                                                {executionProviders: ["wasm"]});
  } catch (err) {
    say("The model could not be loaded: " + err);
    return;
  }
  say("Ready: drop images on this page or choose them.");
  $("files").disabled = false;
  $("camera").disabled = false;
}

// Pillow's resampling (libImaging/Resample.c) for one axis: each output pixel's first input
// pixel and its fixed-point weights.
const BITS = 22;
function coefficients(inSize, outSize, span) {  // span: the input's width used (a float32)
  const scale = span / outSize, filterScale = Math.max(scale, 1.0), support = filterScale;
  const all = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    const w = [];
    let total = 0.0;
    for (let x = 0; x < xmax; x++) {
      const t = Math.abs((x + xmin - center + 0.5) / filterScale);
      const v = t < 1.0 ? 1.0 - t : 0.0;
      w.push(v);
      total += v;
    }
    const k = w.map((v) => {
      const u = (total !== 0.0 ? v / total : v) * (1 << BITS);
      return u < 0 ? Math.trunc(-0.5 + u) : Math.trunc(0.5 + u);
    });
    all.push([xmin, k]);
  }
  return all;
}

function clip8(sum) {
  if (sum <= 0) return 0;
  if (sum >= (256 << BITS) >>> 0) return 255;
  return Math.min(255, Math.floor(sum / (1 << BITS)));
}

// src: RGB bytes (3 per pixel) w x h; resample along x (step 3) or y (step 3 * w)
function resampleRows(src, w, h, outW, span) {
  const co = coefficients(w, outW, span), out = new Uint8Array(outW * h * 3);
  for (let y = 0; y < h; y++) {
    for (let xx = 0; xx < outW; xx++) {
      const [xmin, k] = co[xx];
      for (let c = 0; c < 3; c++) {
        let s = 1 << (BITS - 1);
        for (let x = 0; x < k.length; x++) s += src[(y * w + xmin + x) * 3 + c] * k[x];
        out[(y * outW + xx) * 3 + c] = clip8(s);
      }
    }
  }
  return out;
}

function resampleColumns(src, w, h, outH, span) {
  const co = coefficients(h, outH, span), out = new Uint8Array(w * outH * 3);
  for (let yy = 0; yy < outH; yy++) {
    const [ymin, k] = co[yy];
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        let s = 1 << (BITS - 1);
        for (let y = 0; y < k.length; y++) s += src[((ymin + y) * w + x) * 3 + c] * k[y];
        out[(yy * w + x) * 3 + c] = clip8(s);
      }
    }
  }
  return out;
}

// Pillow's Image.reduce: each block's mean, rounded as libImaging/Reduce.c rounds it (the
// last row and column of blocks may be partial)
function reduce(src, w, h, fx, fy) {
  const W = Math.ceil(w / fx), H = Math.ceil(h / fy), out = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    const y0 = y * fy, y1 = Math.min(h, y0 + fy);
    for (let x = 0; x < W; x++) {
      const x0 = x * fx, x1 = Math.min(w, x0 + fx), n = (y1 - y0) * (x1 - x0);
      for (let c = 0; c < 3; c++) {
        let s = Math.floor(n / 2);
        for (let yy = y0; yy < y1; yy++)
          for (let xx = x0; xx < x1; xx++) s += src[(yy * w + xx) * 3 + c];
        out[(y * W + x) * 3 + c] = Math.trunc(s * (1.0 / n));
      }
    }
  }
  return [out, W, H];
}

function pyRound(v) {  // Python's round(): halves to even
  const f = Math.floor(v), d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

function prepare(rgb, w, h) {
  const pre = TG.model.preprocess, side = pre.resize_size, size = pre.image_size;
  let W = w, H = h;
  if (Math.min(w, h) !== side) {
    const scale = side / Math.min(w, h);
    W = Math.max(1, pyRound(w * scale));
    H = Math.max(1, pyRound(h * scale));
    // Pillow's reducing_gap=3: first the mean of each fx x fy block, then the resampling of
    // the reduced image's first w / fx by h / fy pixels
    const fx = Math.max(1, Math.trunc(w / W / 3)), fy = Math.max(1, Math.trunc(h / H / 3));
    let spanX = w, spanY = h;
    if (fx > 1 || fy > 1) {
      [rgb, w, h] = reduce(rgb, w, h, fx, fy);
      spanX = Math.fround(spanX / fx);
      spanY = Math.fround(spanY / fy);
    }
    rgb = resampleColumns(resampleRows(rgb, w, h, W, spanX), W, h, H, spanY);
  }
  const top = pyRound((H - size) / 2), left = pyRound((W - size) / 2);
  const x = new Float32Array(3 * size * size);
  for (let c = 0; c < 3; c++)
    for (let i = 0; i < size; i++)
      for (let j = 0; j < size; j++)
        x[(c * size + i) * size + j] = rgb[((top + i) * W + left + j) * 3 + c] / 255;
  return new ort.Tensor("float32", x, [1, 3, size, size]);
}

function rgbOf(source, w, h) {  // RGB bytes of an image, a bitmap or a video frame
  const canvas = document.createElement("canvas");
  canvas.width = w;
  canvas.height = h;
  const g = canvas.getContext("2d", {willReadFrequently: true});
  g.drawImage(source, 0, 0);
  const rgba = g.getImageData(0, 0, w, h).data;
  const rgb = new Uint8Array(w * h * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    rgb[j] = rgba[i]; rgb[j + 1] = rgba[i + 1]; rgb[j + 2] = rgba[i + 2];
  }
  return rgb;
}

async function pixels(file) {
  const bitmap = await createImageBitmap(file, {colorSpaceConversion: "none",
                                                premultiplyAlpha: "none"});
  return [rgbOf(bitmap, bitmap.width, bitmap.height), bitmap.width, bitmap.height];
}

// each output's probabilities by name; `keep`: also the model's input, for checking
async function predict(rgb, w, h, keep) {
  const input = prepare(rgb, w, h);
  if (keep) keep.input = Array.from(input.data);
  const got = await session.run({[TG.model.preprocess.input_name]: input});
  const out = {};
  for (const output of TG.model.preprocess.outputs)
    out[output.name] = activate(got[output.name].data, output.multi_label);
  return out;
}

function activate(logits, multiLabel) {
  const v = Array.from(logits);
  if (multiLabel) return v.map((z) => 1 / (1 + Math.exp(-z)));
  const m = Math.max(...v), e = v.map((z) => Math.exp(z - m)), s = e.reduce((a, b) => a + b);
  return e.map((z) => z / s);
}

function bars(output, probs) {
  const box = document.createElement("div");
  box.className = "output";
  if (TG.model.preprocess.outputs.length > 1) {
    const h = document.createElement("h3");
    h.textContent = output.task || output.name;
    box.appendChild(h);
  }
  const order = probs.map((p, i) => i).sort((a, b) => probs[b] - probs[a]);
  const shown = output.multi_label ? order : order.slice(0, TOP_K);
  for (const i of shown) {
    const row = document.createElement("div");
    const on = output.multi_label ? probs[i] >= output.thresholds[i] : i === order[0];
    row.className = on ? "bar top" : "bar";
    row.innerHTML = '<span class="name"></span><span class="track"><span class="fill">' +
                    '</span></span><span class="pct"></span>';
    row.querySelector(".name").textContent = output.classes[i];
    row.querySelector(".fill").style.width = (100 * probs[i]).toFixed(1) + "%";
    row.querySelector(".pct").textContent = (100 * probs[i]).toFixed(1) + "%";
    box.appendChild(row);
  }
  return box;
}

async function classify(file) {
  const card = document.createElement("div");
  card.className = "card";
  const img = document.createElement("img");
  img.src = URL.createObjectURL(file);
  const body = document.createElement("div");
  const name = document.createElement("div");
  name.className = "file";
  name.textContent = file.name;
  body.appendChild(name);
  card.append(img, body);
  $("results").prepend(card);
  const result = {file: file.name, outputs: {}};
  try {
    const [rgb, w, h] = await pixels(file);
    result.outputs = await predict(rgb, w, h, TG.keepInputs ? result : null);
    for (const output of TG.model.preprocess.outputs)
      body.appendChild(bars(output, result.outputs[output.name]));
  } catch (err) {
    result.error = String(err);
    const e = document.createElement("div");
    e.className = "error";
    e.textContent = "Not classified: " + err;
    body.appendChild(e);
  }
  TG.results.push(result);
}

async function classifyAll(files) {
  if (!session) return;
  for (const file of files) {
    if (file.type.startsWith("image/") || file.type === "") await classify(file);
  }
  $("files").value = "";
}

// The camera: each frame is classified as soon as the previous answer is in (frames that
// come meanwhile are skipped, never queued, so the bars follow the picture)
let stream = null;
async function camera() {
  if (stream) {
    stream.getTracks().forEach((t) => t.stop());
    stream = null;
    $("live").hidden = true;
    $("camera").textContent = "Camera";
    return;
  }
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    say("This browser gives this page no camera.");
    return;
  }
  try {
    stream = await navigator.mediaDevices.getUserMedia({video: true});
  } catch (err) {
    say("No camera: " + err.message);
    return;
  }
  const video = $("video");
  video.srcObject = stream;
  await video.play();
  $("live").hidden = false;
  $("camera").textContent = "Stop camera";
  TG.frames = 0;
  while (stream) {
    const w = video.videoWidth, h = video.videoHeight;
    if (w && h) {
      const out = await predict(rgbOf(video, w, h), w, h, null);
      const box = $("livebars");
      box.replaceChildren(...TG.model.preprocess.outputs.map((o) => bars(o, out[o.name])));
      TG.frames += 1;
    }
    await new Promise((resolve) => requestAnimationFrame(resolve));
  }
}

$("camera").addEventListener("click", camera);
$("files").addEventListener("change", () => classifyAll(Array.from($("files").files)));
document.addEventListener("dragover", (e) => {
  e.preventDefault();
  document.body.classList.add("over");
});
document.addEventListener("dragleave", () => document.body.classList.remove("over"));
document.addEventListener("drop", (e) => {
  e.preventDefault();
  document.body.classList.remove("over");
  classifyAll(Array.from(e.dataTransfer.files));
});
start();
"""

STYLE = """
body { font: 15px/1.4 system-ui, sans-serif; margin: 0 auto; max-width: 760px; padding: 1em;
       color: #222; }
body.over { outline: 4px dashed #3874c8; outline-offset: -8px; }
h1 { font-size: 1.4em; margin-bottom: 0.2em; }
#drop { border: 2px dashed #aaa; border-radius: 8px; padding: 1.2em; text-align: center;
        margin: 1em 0; color: #555; }
#status { color: #555; }
.card { display: flex; gap: 1em; border-top: 1px solid #ddd; padding: 0.8em 0; }
.card img { width: 128px; height: 128px; object-fit: cover; border-radius: 4px; flex: none; }
.card > div { flex: 1; }
.file { font-weight: 600; margin-bottom: 0.3em; overflow-wrap: anywhere; }
.output h3 { font-size: 1em; margin: 0.4em 0 0.2em; }
.bar { display: flex; align-items: center; gap: 0.6em; margin: 2px 0; }
.name { width: 9em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.track { flex: 1; height: 14px; background: #eee; border-radius: 3px; overflow: hidden; }
.fill { display: block; height: 100%; background: #9bb7dc; }
.top .fill { background: #3874c8; }
.top .name { font-weight: 600; }
.pct { width: 4em; text-align: right; font-variant-numeric: tabular-nums; }
.error { color: #b00; }
#live { display: flex; gap: 1em; margin-bottom: 1em; }
#live video { width: 240px; border-radius: 4px; background: #000; flex: none; }
#livebars { flex: 1; }
"""


def page_html(title: str, runtime: str, from_cdn: bool, cdn: str) -> str:
    """index.html: `runtime` is the runtime's script (a file beside it, or its CDN address)."""
    setup = f"const FROM_CDN = {json.dumps(from_cdn)}, CDN = {json.dumps(cdn)};"
    network = ("<p><b>This page loads onnxruntime-web from the internet</b> (" + html.escape(cdn)
               + "): it needs a network connection.</p>") if from_cdn else ""
    wasm = "" if from_cdn else '<script src="ort-wasm.js"></script>\n'
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{STYLE}</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
{network}<div id="drop">Drop images here, or
<input type="file" id="files" accept="image/*" multiple disabled>
or use the <button id="camera" disabled>Camera</button></div>
<div id="live" hidden><video id="video" muted playsinline></video><div id="livebars"></div></div>
<p id="status">Loading the model…</p>
<div id="results"></div>
<script src="model.js"></script>
{wasm}<script src="{html.escape(runtime)}"></script>
<script>
{setup}
{SCRIPT}
</script>
</body>
</html>
"""
