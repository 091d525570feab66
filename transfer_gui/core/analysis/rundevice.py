"""Where a trained run's predictions run: on the kind of device it trained on (its `run.json`
names it, as `train.recipe.device_label` wrote it) when this machine has one, else on the CPU,
with a sentence that says which and why."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from ..io.runmeta import RunError, read_meta
from ..train.recipe import device_label, pick_device


@dataclass(frozen=True)
class Placement:
    device: str  # "cuda", "mps" or "cpu": what `Predictor.from_run` takes
    text: str  # where, in words: "on GPU: NVIDIA H100", or the CPU and why


def trained_on(label: str) -> str:
    """The device kind a run's device label names ("GPU: Apple MPS" -> "mps")."""
    if label.startswith("GPU"):
        return "mps" if "MPS" in label else "cuda"
    return "cpu"


def available(kind: str) -> bool:
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        mps = getattr(torch.backends, "mps", None)
        return bool(mps is not None and mps.is_available())
    return True


def prediction_device(run_dir: str | os.PathLike[str]) -> Placement:
    """The device to predict with the run on, and that choice in words."""
    try:
        label = str(read_meta(run_dir).get("device") or "")
    except RunError:
        label = ""
    kind = trained_on(label)
    if available(kind):
        return Placement(kind, f"on {device_label(torch.device(kind))}")
    return Placement("cpu", f"on the CPU (the run trained on {label}, which this machine "
                            "does not have)")


def automatic_device() -> Placement:
    """A GPU when this machine has one, else the CPU (the pretrained network before any run)."""
    device = pick_device("auto")
    return Placement(device.type, f"on {device_label(device)}")
