"""Exporting a trained run as a self-contained TorchScript file.

The exported module takes float RGB images scaled to [0, 1], shape (N, 3, S, S) with S the
run's image size, normalises them itself and returns class logits. The class names and the
preprocessing travel inside the file as `transfer_gui.json` (an extra file of the archive).
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from ..atomic import atomic_path
from ..errors import UserError
from .bundle import LoadedRun, load_run

FORMATS = ("torchscript",)
TOLERANCE = 1e-4


class ExportError(UserError, RuntimeError):
    pass


class Normalized(nn.Module):
    """`model((x - mean) / std)`: preprocessing baked into the exported graph."""

    def __init__(self, model: nn.Module, mean: tuple, std: tuple) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model((x - self.mean) / self.std)


def export_run(
    run_dir: str | os.PathLike[str] | LoadedRun,
    out_file: str | os.PathLike[str],
    fmt: str = "torchscript",
) -> float:
    """Write the export and return the largest difference between its outputs and the run's
    model on the same random inputs (checked against `TOLERANCE`)."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    run = run_dir if isinstance(run_dir, LoadedRun) else load_run(run_dir)
    pre = run.preprocess
    wrapped = Normalized(run.model.cpu().eval(), pre.mean, pre.std).eval()
    size = pre.image_size
    example = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad(), _quiet():
        traced = torch.jit.trace(wrapped, example, check_trace=False)
    extra = {"transfer_gui.json": json.dumps({
        "classes": run.classes, "preprocess": pre.to_dict(), "backbone": run.spec.name,
        "input": f"float RGB in [0, 1], shape (N, 3, {size}, {size})", "output": "logits",
    })}
    out = Path(out_file)
    with atomic_path(out) as tmp, _quiet():
        torch.jit.save(traced, str(tmp), _extra_files=extra)
        diff = _check(wrapped, tmp, size)
    return diff


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    # Tracing warns about shape-dependent Python ints (fine: the export has a fixed input
    # size), and TorchScript now announces its deprecation on every call.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", FutureWarning)
        yield


def _check(wrapped: nn.Module, path: Path, size: int) -> float:
    loaded = torch.jit.load(str(path), map_location="cpu")
    probe = torch.rand(3, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = wrapped(probe), loaded(probe)
    diff = float((expected - got).abs().max())
    scale = max(1.0, float(expected.abs().max()))
    if diff > TOLERANCE * scale:
        raise ExportError(f"the exported model differs from the run's model by {diff:.2e}")
    return diff
