"""The export benchmark: every format the run can be written in, side by side.

For each format the run is exported into a temporary folder (with the usual check), then the
file's size, its latency per image on this machine's CPU (one image at a time, and in batches
of 32), and on the run's validation images (or a labelled folder) its accuracy and its top-1
agreement with the run's own model. The first row is the run's model itself.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.scan import Sample
from ..errors import UserError
from ..events import CancelToken, Work
from .bundle import load_run
from .export import CHECK_IMAGES, EXPORT_SUFFIXES, FILE_FORMATS, _named, _wrapped, export_run
from .exportformats import LOADERS, OUTPUT, quiet
from .quantize import agreement, images_of, load_images
from .runmeta import WEIGHTS

RUN_ROW = "the run (PyTorch)"


@dataclass(frozen=True)
class BenchRow:
    format: str
    size: int  # bytes
    ms_batch1: float  # per image, one image at a time (median)
    ms_batch32: float  # per image, in batches of 32 (median batch / 32)
    accuracy: float | None
    agreement: float  # top-1, with the run's own model
    images: int
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def folder_samples(folder: str | os.PathLike[str], classes: Sequence[str]) -> list[Sample]:
    """The images of `folder` in sub-folders named like the run's classes, labelled so."""
    from ..data.scan import Problem, walk_files

    root = Path(folder)
    if not root.is_dir():
        raise UserError(f"{folder} is not a folder")
    samples: list[Sample] = []
    for index, name in enumerate(classes):
        if (root / name).is_dir():
            problems: list[Problem] = []
            samples += [Sample(str(p), index) for p in sorted(walk_files(root / name, problems))]
    if not samples:
        raise UserError(f"{folder} has no sub-folder named like the run's classes "
                        f"({', '.join(classes[:5])}{', …' if len(classes) > 5 else ''})")
    return samples


def benchmark_exports(run_dir: str | os.PathLike[str], data: str | None = None,
                      formats: Sequence[str] = FILE_FORMATS, repeats: int = 10,
                      callbacks: Work | Iterable = (),
                      cancel: CancelToken | None = None) -> list[BenchRow]:
    """One row for the run's model, then one per format in `formats`."""
    task = Work.of(callbacks, cancel)
    run = load_run(run_dir)
    if data:
        x, labels = load_images(run, folder_samples(data, run.classes), CHECK_IMAGES)
    else:
        x, labels = images_of(run, "val", CHECK_IMAGES)
    if not len(x):
        raise UserError("no labelled images to measure on: the run's validation images "
                        "cannot be read; give a folder of images in class sub-folders")
    wrapped = _wrapped(run)
    reference = _answers(wrapped, x)
    weights = Path(run_dir) / WEIGHTS
    rows = [_row(RUN_ROW, weights.stat().st_size if weights.is_file() else 0, wrapped, x,
                 reference, labels, repeats)]
    task.progress(1, len(formats) + 1, "benchmark")
    with tempfile.TemporaryDirectory() as folder:
        for i, fmt in enumerate(formats):
            task.check()
            result = export_run(run, Path(folder) / f"model{EXPORT_SUFFIXES[fmt]}", fmt)
            with quiet():
                runner = LOADERS[fmt](result.path)
            rows.append(_row(fmt, result.size, runner, x, reference, labels, repeats,
                             result.warning))
            task.progress(i + 2, len(formats) + 1, "benchmark")
    return rows


def _answers(runner: Callable[[torch.Tensor], Any], x: torch.Tensor) -> np.ndarray:
    """The first output's logits for `x`, in batches of 32."""
    parts = []
    for start in range(0, len(x), 32):
        with torch.no_grad():
            out = runner(x[start:start + 32])
        first = next(iter(out.values())) if isinstance(out, dict) else _named(out, [OUTPUT])[
            OUTPUT]
        parts.append(first.numpy())
    return np.concatenate(parts)


def _row(name: str, size: int, runner: Any, x: torch.Tensor, reference: np.ndarray,
         labels: np.ndarray, repeats: int, note: str = "") -> BenchRow:
    got = _answers(runner, x)
    check = agreement(reference, got, labels)
    return BenchRow(name, size, _latency(runner, x[:1], repeats),
                    _latency(runner, _batch(x, 32), max(2, repeats // 4)) / 32,
                    check.accuracy, check.agreement, len(x), note)


def _batch(x: torch.Tensor, n: int) -> torch.Tensor:
    return x[torch.arange(n) % len(x)]


def _latency(runner: Any, x: torch.Tensor, repeats: int) -> float:
    """Median milliseconds of one call on `x`, after three calls to warm up (TorchScript's
    profiling executor optimises the graph on its second call)."""
    with torch.no_grad():
        for _ in range(3):
            runner(x)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            runner(x)
            times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)
