"""Exporting a trained run as a self-contained model file, checked before it is kept.

Formats: `onnx` (for onnxruntime and other ONNX runtimes), `onnx-int8` (the same quantized
to 8 bits, `quantize.py`), `ort` (ONNX Runtime's mobile format), `torch-export` (a `.pt2`
archive of `torch.export`, loaded with `torch.export.load(path).module()`) and `torchscript` (a
traced module, loaded with `torch.jit.load`). Every exported model takes float RGB images scaled to
[0, 1], shape (N, 3, S, S) with S the run's image size and any batch size N, normalises them
itself and returns class logits.

After writing, the file is loaded back and run on up to 8 of the run's validation images,
preprocessed exactly as prediction does (seeded random inputs only when the run's data folder
is gone), as a full batch and as a single image. Its logits must match the run's model within
`TOLERANCES[format]` times max(1, largest |logit|): 1e-4 for the two PyTorch formats and 1e-3
for ONNX (onnxruntime fuses and reorders operations; measured differences are near 1e-6 for
both). An export above it is refused: no file is left at the destination.

Beside `NAME.EXT` go `NAME.labels.json` (the class names, in output order) and
`NAME.preprocess.json` (image size, resize, mean and std, input layout, and each output: its
name, classes and, for a multi-label task, the labels' thresholds; see `exportwords`); exports
of one run in several formats can share them. The same facts travel inside the file: as ONNX
metadata properties, or as `transfer_gui.json` in a PyTorch archive.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ... import __version__
from .. import atomic
from ..data.datasets import Preprocess, load_base, unit_transform
from ..data.images import ImageError
from ..errors import UserError
from ..models.heads import MultiHead
from ..wording import count
from .bundle import LoadedRun, load_run, load_split
from .exportformats import INPUT, LOADERS, OUTPUT, WRITERS, quiet, require_onnx, write_onnx
from .exportweb import CDN, ORT_WEB_ENV, find_ort_web, folder_size, write_web_folder
from .exportweb import MODEL as WEB_MODEL
from .exportwords import ExportedOutput, exported_outputs, input_text, outputs_text
from .quantize import CALIBRATION_IMAGES, Agreement, agreement, drop_warning, images_of, quantize
from .runmeta import RunError

EXPORT_FORMATS = ("onnx", "onnx-int8", "ort", "torch-export", "torchscript", "web")
FILE_FORMATS = EXPORT_FORMATS[:-1]  # one model file each (web: a folder with a page)
EXPORT_SUFFIXES = {"onnx": ".onnx", "onnx-int8": ".int8.onnx", "ort": ".ort",
                   "torch-export": ".pt2", "torchscript": ".pt", "web": "-web"}
CHECK_IMAGES = 500  # validation images an int8 file is measured on
TOLERANCES = {"onnx": 1e-3, "ort": 1e-3, "torch-export": 1e-4, "torchscript": 1e-4}
PROBE_IMAGES = 8


class ExportError(UserError, RuntimeError):
    pass


@dataclass(frozen=True)
class ExportResult:
    format: str
    path: Path
    max_diff: float  # the largest difference from the run's model's logits
    tolerance: float  # the limit it was held to (relative tolerance times the logits' scale)
    images: int  # validation images checked; 0: seeded random inputs (no data folder)
    size: int  # bytes
    sidecars: tuple[Path, ...]
    image_size: int = 0  # the side of the square input it expects, in pixels
    described: tuple[ExportedOutput, ...] = ()  # its outputs: one per task of a labels CSV
    method: str = ""  # int8: "static" (calibrated) or "dynamic"
    calibration: int = 0  # int8: the training images it was calibrated on
    check: Agreement | None = None  # int8: how it answers the validation images
    warning: str = ""  # written, but worse than the run by more than the allowed drop

    @property
    def outputs(self) -> tuple[str, ...]:
        """Its outputs' names."""
        return tuple(o.name for o in self.described) or (OUTPUT,)

    def input_text(self) -> str:
        """What it takes and gives, in words."""
        return f"{input_text(self.image_size)}; {outputs_text(self.described)}"

    def checked_on(self) -> str:
        if self.images:
            return count(self.images, "validation image")
        return "random inputs (the run's validation images could not be read)"

    def summary(self) -> str:
        if self.check is not None:
            return int8_summary(self)
        return (f"largest difference from the run's model {self.max_diff:.1e} (tolerance "
                f"{self.tolerance:.1e}) on {self.checked_on()}; {_megabytes(self.size)}")


def int8_summary(result: ExportResult) -> str:
    check = result.check
    assert check is not None
    how = (f"static, calibrated on {count(result.calibration, 'training image')}"
           if result.method == "static" else "dynamic: no training images to calibrate on")
    text = (f"int8 ({how}); top-1 agreement with the run's model {check.agreement:.1%} on "
            f"{result.checked_on()}")
    if check.accuracy is not None and check.run_accuracy is not None:
        text += f", accuracy {check.accuracy:.1%} (the run's {check.run_accuracy:.1%})"
    return f"{text}; {_megabytes(result.size)}"


def _megabytes(size: int) -> str:
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size / 2**10:.0f} KiB"


class Normalized(nn.Module):
    """`model((x - mean) / std)`: preprocessing baked into the exported graph."""

    mean: torch.Tensor  # buffers, registered in __init__
    std: torch.Tensor

    def __init__(self, model: nn.Module, mean: tuple, std: tuple) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model((x - self.mean) / self.std)


class TaskOutputs(nn.Module):
    """A model of several tasks with one named output per task: its logits."""

    def __init__(self, model: nn.Module, names: list[str], slices: list[slice]) -> None:
        super().__init__()
        self.model, self.names, self.slices = model, names, slices

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        logits = self.model(x)
        return {n: logits[:, s] for n, s in zip(self.names, self.slices, strict=True)}


def described_outputs(run: LoadedRun,
                      thresholds: dict[str, Any] | None = None) -> list[ExportedOutput]:
    """The exported model's outputs: `logits`, or one per task (a head per task) named by its
    column; `thresholds`: the multi-label tasks' (else those `run.json` keeps, else 0.5)."""
    stored = run.meta.get("thresholds")
    if thresholds is None and isinstance(stored, dict):
        thresholds = stored
    if not isinstance(run.model.head, MultiHead):
        return exported_outputs(run.classes, run.tasks[:1] if len(run.tasks) == 1 else [])
    return exported_outputs(run.classes, run.tasks, thresholds)


def output_names(run: LoadedRun) -> list[str]:
    """The exported model's outputs' names."""
    return [o.name for o in described_outputs(run)]


def _wrapped(run: LoadedRun) -> nn.Module:
    pre = run.preprocess
    model: nn.Module = Normalized(run.model.cpu().eval(), pre.mean, pre.std)
    head = run.model.head
    if isinstance(head, MultiHead):
        model = TaskOutputs(model, output_names(run), head.slices())
    return model.eval()


def export_run(
    run_dir: str | os.PathLike[str] | LoadedRun,
    out_file: str | os.PathLike[str],
    fmt: str = "onnx",
    thresholds: dict[str, Any] | None = None,
    ort_web: str | os.PathLike[str] | None = None,
) -> ExportResult:
    """Write the export with its two side files, once its outputs match the run's model.
    `thresholds`: each multi-label task's per-label cuts (`analysis.exporting` chooses them
    on the validation split when the run has none yet). `ort_web`: for `web`, the folder
    holding onnxruntime-web (else it is looked for, `exportweb.find_ort_web`)."""
    if fmt not in EXPORT_FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose one of "
                          f"{', '.join(EXPORT_FORMATS)}")
    if fmt.startswith("onnx") or fmt == "ort":
        require_onnx()
    run = run_dir if isinstance(run_dir, LoadedRun) else load_run(run_dir)
    if fmt == "onnx-int8":
        return _export_int8(run, Path(out_file), thresholds)
    if fmt == "web":
        return _export_web(run, Path(out_file), thresholds, ort_web)
    pre = run.preprocess
    described = described_outputs(run, thresholds)
    wrapped, outputs = _wrapped(run), [o.name for o in described]
    size = pre.image_size
    example = _example(run)
    probe, images = probe_inputs(run)
    out = Path(out_file)
    with atomic.atomic_path(out) as tmp, quiet():
        WRITERS[fmt](wrapped, example, tmp, file_metadata(run, fmt, described), outputs)
        diff, limit = _check(fmt, wrapped, tmp, probe, outputs)
    sidecars = write_sidecars(run, out, described)
    return ExportResult(fmt, out, diff, limit, images, out.stat().st_size, sidecars, size,
                        tuple(described))


def _export_web(run: LoadedRun, out: Path, thresholds: dict[str, Any] | None,
                ort_web: str | os.PathLike[str] | None) -> ExportResult:
    """The checked ONNX export in folder `out`, with a page that runs it in the browser."""
    dist = find_ort_web(ort_web)
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} is a file; the web export writes a folder")
    out.mkdir(parents=True, exist_ok=True)
    model = export_run(run, out / WEB_MODEL, "onnx", thresholds)
    labels, preprocess = (json.loads(p.read_text(encoding="utf-8")) for p in model.sidecars)
    files = write_web_folder(out, model.path, labels, preprocess, Path(run.run_dir).name, dist)
    warning = "" if dist else (
        "onnxruntime-web was not found (give its folder with --ort-web DIR or "
        f"${ORT_WEB_ENV}): the page loads it from {CDN} and needs a network connection")
    return dataclasses.replace(model, format="web", path=files[0], size=folder_size(out),
                               sidecars=(*files[1:], model.path, *model.sidecars),
                               warning=warning)


def _example(run: LoadedRun) -> torch.Tensor:
    size = run.preprocess.image_size
    return torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(0))


def _export_int8(run: LoadedRun, out: Path,
                 thresholds: dict[str, Any] | None = None) -> ExportResult:
    """The float ONNX export quantized (`quantize`), measured on the validation images."""
    described = described_outputs(run, thresholds)
    wrapped, outputs = _wrapped(run), [o.name for o in described]
    calibration, _ = images_of(run, "train", CALIBRATION_IMAGES)
    val, labels = images_of(run, "val", CHECK_IMAGES)
    images = len(val)
    if not images:
        val, _ = probe_inputs(run)
    with tempfile.TemporaryDirectory() as folder, quiet():
        float_path = Path(folder) / "float.onnx"
        write_onnx(wrapped, _example(run), float_path, file_metadata(run, "onnx", described),
                   outputs)
        with atomic.atomic_path(out) as tmp:
            method = quantize(float_path, tmp, calibration.numpy())
            check = _agreement(wrapped, LOADERS["onnx"](tmp), val, labels if images else None,
                               outputs[0])
    sidecars = write_sidecars(run, out, described)
    return ExportResult("onnx-int8", out, 0.0, 0.0, images, out.stat().st_size, sidecars,
                        run.preprocess.image_size, tuple(described), method=method,
                        calibration=len(calibration), check=check, warning=drop_warning(check))


def _agreement(wrapped: nn.Module, runner: Any, x: torch.Tensor, labels: Any,
               output: str) -> Agreement:
    """The export's answers on `x` against the run's model's, in batches of 32."""
    want, got = [], []
    for start in range(0, len(x), 32):
        part = x[start:start + 32]
        with torch.no_grad():
            want.append(_named(wrapped(part), [output])[output].numpy())
        got.append(_named(runner(part), [output])[output].numpy())
    return agreement(np.concatenate(want), np.concatenate(got), labels)


def default_export_path(run_dir: str | os.PathLike[str], fmt: str) -> Path:
    """Where an export goes unless told: `RUN/export/model.onnx` (`.pt2`, `.pt`; the folder
    `model-web`)."""
    return Path(run_dir) / "export" / f"model{EXPORT_SUFFIXES[fmt]}"


def export_format_for(path: str | os.PathLike[str] | None) -> str:
    """The format a file name asks for by its ending (`.int8.onnx`, `.onnx`, `.pt2`, `.pt`,
    `-web`); else onnx."""
    name = Path(path).name.lower() if path else ""
    longest_first = sorted(EXPORT_SUFFIXES.items(), key=lambda item: -len(item[1]))
    return next((f for f, s in longest_first if name.endswith(s)), "onnx")


def sidecar_paths(out_file: str | os.PathLike[str]) -> tuple[Path, Path]:
    out = Path(out_file)
    return out.with_suffix(".labels.json"), out.with_suffix(".preprocess.json")


def preprocess_info(pre: Preprocess, outputs: list[ExportedOutput]) -> dict[str, Any]:
    """`NAME.preprocess.json`: how to prepare an image, and what each output holds."""
    size, resize = pre.image_size, pre.resize_size
    single = len(outputs) == 1 and outputs[0].name == OUTPUT and not outputs[0].multi_label
    return {
        "image_size": size, "resize_size": resize,
        "resize": f"shorter side to {resize} px (bilinear), then the centered {size} x {size} "
                  "square",
        "mean": list(pre.mean), "std": list(pre.std),
        "normalization": "inside the model: give it values in [0, 1], mean and std are "
                         "applied by the model",
        "input_layout": "NCHW", "input_name": INPUT,
        "input": f"float32 RGB in [0, 1], shape (N, 3, {size}, {size})",
        **({"output": OUTPUT} if single else {}),  # one output of class logits: its name
        "outputs": [o.to_dict() for o in outputs],
    }


def file_metadata(run: LoadedRun, fmt: str, outputs: list[ExportedOutput]) -> dict[str, Any]:
    """What travels inside the file. ONNX metadata properties are strings: lists and tables
    are JSON there."""
    info: dict[str, Any] = {"classes": run.classes,
                            "preprocess": preprocess_info(run.preprocess, outputs),
                            "backbone": run.spec.name, "transfer_gui_version": __version__}
    if isinstance(run.model.head, MultiHead):
        info["tasks"] = [{**t.to_dict(), "output": o.name,
                          **({"thresholds": list(o.thresholds)} if o.multi_label else {})}
                         for t, o in zip(run.tasks, outputs, strict=True)]
    if fmt in ("onnx", "ort"):  # ONNX metadata properties are strings
        info = {k: v if isinstance(v, str) else json.dumps(v) for k, v in info.items()}
    return info


def write_sidecars(run: LoadedRun, out: Path,
                   outputs: list[ExportedOutput]) -> tuple[Path, ...]:
    labels, preprocess = sidecar_paths(out)
    atomic.write_json(labels, {o.name: list(o.classes) for o in outputs}
                      if isinstance(run.model.head, MultiHead) else list(run.classes))
    atomic.write_json(preprocess, preprocess_info(run.preprocess, outputs))
    return labels, preprocess


def probe_inputs(run: LoadedRun, limit: int = PROBE_IMAGES) -> tuple[torch.Tensor, int]:
    """Up to `limit` validation images spread over the run's split, as prediction prepares
    them but not normalised; seeded random inputs when none can be read."""
    pre = run.preprocess
    try:
        _, val = load_split(run.run_dir)
    except (RunError, OSError):
        val = []
    transform = unit_transform(pre)
    images: list[torch.Tensor] = []
    for sample in val[:: max(1, len(val) // limit)][: 4 * limit]:
        try:
            images.append(transform(load_base(sample.path, pre.resize_size)))
        except ImageError:
            continue
        if len(images) == limit:
            break
    if images:
        return torch.stack(images), len(images)
    size = pre.image_size
    return torch.rand(3, 3, size, size, generator=torch.Generator().manual_seed(1)), 0


def _check(fmt: str, wrapped: nn.Module, path: Path, probe: torch.Tensor,
           outputs: list[str]) -> tuple[float, float]:
    """Largest difference and the limit, over every output, the whole probe batch and a single
    image (a batch size other than the example's: the batch dimension really is free)."""
    run = LOADERS[fmt](path)
    diff, scale = 0.0, 1.0
    for x in (probe, probe[:1]):
        with torch.no_grad():
            expected, got = _named(wrapped(x), outputs), _named(run(x), outputs)
        if list(got) != outputs:
            raise ExportError(f"the exported model's outputs are {', '.join(got)}, not "
                              f"{', '.join(outputs)}")
        for name in outputs:
            want, have = expected[name], got[name]
            if tuple(have.shape) != tuple(want.shape):
                raise ExportError(f"the exported model gives {name} of shape "
                                  f"{tuple(have.shape)} for a batch of {len(x)}, not "
                                  f"{tuple(want.shape)}")
            diff = max(diff, float((want - have).abs().max()))
            scale = max(scale, float(want.abs().max()))
    limit = TOLERANCES[fmt] * scale
    if not diff <= limit:  # also refuses NaN
        raise ExportError(f"the exported model differs from the run's model by {diff:.2e}, "
                          f"more than the tolerance of {limit:.2e}; nothing was saved")
    return diff, limit


def _named(out: Any, names: list[str]) -> dict[str, torch.Tensor]:
    """A model's outputs by name, however the format returns them (a tensor, a tuple in
    output order, or a dict)."""
    if isinstance(out, torch.Tensor):
        return {names[0]: out}
    if isinstance(out, dict):
        return {str(k): v for k, v in out.items()}
    return dict(zip(names, out, strict=True))
