"""Exporting a run with what prediction needs beside its logits: a multi-label task's
per-label thresholds, chosen on the run's validation split when the run has none yet (as
evaluation and prediction choose them), travel with the export (`io.export`)."""

from __future__ import annotations

import os
from typing import Any

from ..io.bundle import LoadedRun, load_run
from ..io.export import ExportResult
from ..io.export import export_run as write_export
from .evaluation import run_thresholds


def export_run(
    run_dir: str | os.PathLike[str] | LoadedRun,
    out_file: str | os.PathLike[str],
    fmt: str = "onnx",
    ort_web: str | os.PathLike[str] | None = None,
) -> ExportResult:
    """`io.export.export_run`, with the multi-label tasks' thresholds of `run_thresholds`."""
    run = run_dir if isinstance(run_dir, LoadedRun) else load_run(run_dir)
    cuts: dict[str, Any] | None = None
    if any(t.multi_label for t in run.tasks):
        cuts = run_thresholds(run, device="cpu") or None
    return write_export(run, out_file, fmt, cuts, ort_web)
