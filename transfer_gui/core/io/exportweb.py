"""`export --format web`: a folder whose `index.html` classifies images in the browser with
onnxruntime-web, offline when the runtime's files were found at export time.

Chromium refuses `fetch` of a .wasm or .onnx file from a page opened as `file://`, but it runs
`<script src>` files. So the model, the labels and the runtime's WebAssembly binary travel as
base64 inside .js files (`model.js`, `ort-wasm.js`), the page hands the wasm to the runtime as
`ort.env.wasm.wasmBinary` and makes its session from the model's bytes: the same folder works
opened from disk and served over HTTP. The plain ONNX file and its side files go beside them
for other uses."""

from __future__ import annotations

import base64
import json
import os
import shutil
from pathlib import Path
from typing import Any

from .. import atomic
from ..errors import UserError
from .webpage import page_html

ORT_WEB_ENV = "TRANSFER_GUI_ORT_WEB"  # a folder holding onnxruntime-web's dist (or above it)
ORT_WEB_VERSION = "1.23.2"  # the CDN fallback's version: the one `.ci/run` installs
CDN = f"https://cdn.jsdelivr.net/npm/onnxruntime-web@{ORT_WEB_VERSION}/dist/"
RUNTIME = "ort.wasm.min.js"  # the WebAssembly-only build, loadable by a script tag
GLUE, WASM = "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"  # run single-threaded
MODEL = "model.onnx"


class WebExportError(UserError):
    pass


def _dist_in(folder: Path) -> Path | None:
    package = folder / "node_modules" / "onnxruntime-web" / "dist"  # npm install --prefix
    for candidate in (folder, folder / "dist", package):
        if all((candidate / name).is_file() for name in (RUNTIME, GLUE, WASM)):
            return candidate
    return None


def cache_folders() -> list[Path]:
    """Where a runtime is looked for without `--ort-web`: the environment variable, the user's
    cache and a source checkout's `.cache/ort-web` (where `.ci/run` installs it)."""
    found = [Path(os.environ[ORT_WEB_ENV])] if os.environ.get(ORT_WEB_ENV) else []
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return [*found, cache / "transfer_gui" / "ort-web",
            Path(__file__).resolve().parents[3] / ".cache" / "ort-web"]


def find_ort_web(given: str | os.PathLike[str] | None = None) -> Path | None:
    """onnxruntime-web's `dist` folder: in `given` (an error when it is not there), else in
    the first of `cache_folders()` that has it; None when none has it."""
    if given is not None:
        dist = _dist_in(Path(given))
        if dist is None:
            raise WebExportError(f"{given} holds no onnxruntime-web files ({RUNTIME}, {GLUE}, "
                                 f"{WASM}); install them with: npm install --prefix {given} "
                                 f"onnxruntime-web@{ORT_WEB_VERSION}")
        return dist
    return next((d for d in map(_dist_in, cache_folders()) if d is not None), None)


def _script(name: str, value: Any) -> str:
    """A .js file that sets `window.TG[name]`: how data reaches a file:// page."""
    return (f"window.TG = window.TG || {{}};\nwindow.TG[{json.dumps(name)}] = "
            f"{json.dumps(value, ensure_ascii=True)};\n")


def write_web_folder(folder: Path, model: Path, labels: Any, preprocess: dict[str, Any],
                     title: str, dist: Path | None) -> list[Path]:
    """Everything the page needs beside the ONNX `model` already in `folder`; the files
    written. `dist`: onnxruntime-web's files to copy; None: the page loads them from the CDN."""
    data = base64.b64encode(model.read_bytes()).decode("ascii")
    files = {"model.js": _script("model", {"onnx": data, "labels": labels,
                                           "preprocess": preprocess})}
    if dist is not None:
        wasm = base64.b64encode((dist / WASM).read_bytes()).decode("ascii")
        glue = (dist / GLUE).read_text(encoding="utf-8")
        files["ort-wasm.js"] = _script("wasm", {"binary": wasm, "glue": glue})
    written = []
    for name, text in files.items():
        atomic.write_text(folder / name, text)
        written.append(folder / name)
    if dist is not None:
        shutil.copyfile(dist / RUNTIME, folder / RUNTIME)
        written.append(folder / RUNTIME)
    runtime = RUNTIME if dist is not None else CDN + RUNTIME
    atomic.write_text(folder / "index.html", page_html(title, runtime, dist is None, CDN))
    return [folder / "index.html", *written]


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
