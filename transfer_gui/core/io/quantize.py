"""int8 ONNX: the float export quantized with ONNX Runtime, calibrated on the run's own
training images, then measured against the run's model.

Static quantization (QDQ format, weights per output channel, int8 weights and uint8
activations, min-max calibration) needs example inputs: up to `CALIBRATION_IMAGES` of the
run's training images, preprocessed as the run does for prediction. Without them (the data
folder is gone) the weights alone are quantized (dynamic quantization: activations are
quantized at run time).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..data.datasets import load_base, unit_transform
from ..data.images import ImageError
from ..data.scan import Sample
from .bundle import LoadedRun, load_split
from .exportformats import INPUT
from .runmeta import RunError

CALIBRATION_IMAGES = 300
# An int8 file whose accuracy falls more than this many points below the run's is written
# only with a warning saying so.
ACCURACY_DROP = 1.0


def images_of(run: LoadedRun, part: str, limit: int) -> tuple[torch.Tensor, np.ndarray]:
    """Up to `limit` of the run's `part` ("train" or "val") images spread over the split, as
    prediction prepares them but not normalised, and their labels; empty when none load."""
    try:
        train, val = load_split(run.run_dir)
    except (RunError, OSError):
        train, val = [], []
    return load_images(run, train if part == "train" else val, limit)


def load_images(run: LoadedRun, samples: Sequence[Sample],
                limit: int) -> tuple[torch.Tensor, np.ndarray]:
    """`images_of` for any samples (spread over them, unreadable ones left out)."""
    pre = run.preprocess
    transform = unit_transform(pre)
    images, labels = [], []
    for sample in samples[:: max(1, len(samples) // limit)]:
        try:
            images.append(transform(load_base(sample.path, pre.resize_size)))
        except ImageError:
            continue
        labels.append(sample.label)
        if len(images) == limit:
            break
    if not images:
        size = pre.image_size
        return torch.empty(0, 3, size, size), np.empty(0, dtype=np.int64)
    return torch.stack(images), np.array(labels)


class _Reader:
    """ONNX Runtime's calibration data reader: one image at a time."""

    def __init__(self, batch: np.ndarray) -> None:
        self._rows = iter(batch)

    def get_next(self) -> dict[str, np.ndarray] | None:
        row = next(self._rows, None)
        return None if row is None else {INPUT: row[None]}

    def rewind(self) -> None:  # the calibrator reads once
        pass


def quantize(float_path: Path, out: Path, calibration: np.ndarray) -> str:
    """Write the int8 model of the ONNX file `float_path` to `out`; returns "static" or
    "dynamic" (no calibration images)."""
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as folder:
        prepared = Path(folder) / "prepared.onnx"
        # folds constants and infers shapes, so every convolution gets its own scales
        quant_pre_process(str(float_path), str(prepared), skip_symbolic_shape=True)
        if not len(calibration):
            quantize_dynamic(str(prepared), str(out), weight_type=QuantType.QInt8,
                             per_channel=True)
            return "dynamic"
        quantize_static(str(prepared), str(out), _Reader(calibration),
                        quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)
    return "static"


@dataclass(frozen=True)
class Agreement:
    """How an export answers the run's validation images, against the run's model."""

    images: int
    agreement: float  # share of images whose top class equals the run's
    accuracy: float | None  # of the export; None without labels
    run_accuracy: float | None  # of the run's model on the same images

    def accuracy_drop(self) -> float:
        """Points of accuracy lost (negative: gained); 0 when unknown."""
        if self.accuracy is None or self.run_accuracy is None:
            return 0.0
        return 100 * (self.run_accuracy - self.accuracy)


def agreement(want: np.ndarray, got: np.ndarray, labels: np.ndarray | None) -> Agreement:
    """Top-1 agreement and accuracies from the run's and the export's logits (first output)."""
    top_want, top_got = want.argmax(1), got.argmax(1)
    acc = run_acc = None
    if labels is not None and len(labels) == len(want):
        acc, run_acc = float((top_got == labels).mean()), float((top_want == labels).mean())
    return Agreement(len(want), float((top_want == top_got).mean()), acc, run_acc)


def drop_warning(check: Agreement) -> str:
    if check.accuracy_drop() <= ACCURACY_DROP:
        return ""
    return (f"the int8 model's accuracy is {100 * (check.accuracy or 0):.1f}% on "
            f"{check.images} validation images, {check.accuracy_drop():.1f} points below the "
            f"run's {100 * (check.run_accuracy or 0):.1f}% (more than {ACCURACY_DROP:g}): "
            "prefer the float ONNX file")


def file_size(path: str | os.PathLike[str]) -> int:
    return os.stat(path).st_size
