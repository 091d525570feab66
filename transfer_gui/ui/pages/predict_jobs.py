"""The Predict page's background work: files are classified in chunks whose results stream to
the page as they are computed; Grad-CAM overlays are made on demand, for the results shown.

Both run in worker threads and share one model, so every use of it holds `PredictorCache.use`
(Grad-CAM hooks a layer: a forward pass of the other thread must not run meanwhile).
"""

from __future__ import annotations

import ctypes
import io
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from PIL import Image
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from ..qimage import pil_to_qimage

THUMB = 144  # the largest side of a stored thumbnail or overlay, in pixels
# Images per forward pass: results reach the page, and Stop acts, per chunk. Small, because a
# chunk's activations set the peak memory (16 images at 224 px on Lite0: about 300 MB).
CHUNK = 8


@dataclass
class Result:
    path: str
    top_k: list[tuple[str, float]]
    error: str | None
    thumb: bytes | None  # a small JPEG (a few KB): decoded only while the result is shown
    truth: str | None = None  # the class named by the file's folder, when it is one
    tasks: dict[str, list] = field(default_factory=dict)  # several tasks: each one's answer

    @property
    def label(self) -> str | None:
        return self.top_k[0][0] if self.top_k else None


class Stream(QObject):
    """Lives in the GUI thread: what the workers emit reaches the page's slots queued."""

    chunk = Signal(int, list)  # generation, [Result]
    cam = Signal(int, int, QImage)  # generation, row, overlay


class PredictorCache:
    """Builds a predictor once per model and reuses it for every later image."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.use = threading.Lock()  # held around every forward / backward pass
        self._key: tuple | None = None
        self._predictor: Any = None
        self.where = ""  # the device the model runs on, in words ("on the CPU (...)")

    def get(self, key: tuple[str, str], callbacks: list, cancel: Any) -> Any:
        from ...core import Predictor, automatic_device, prediction_device, run_revision

        kind, name = key
        # a run resumed since is loaded again: the key holds its files' revision
        stamp = (kind, name, run_revision(name) if kind == "run" else None)
        with self._lock:
            if stamp != self._key:
                # a run predicts on the kind of device it trained on, when this machine has it
                place = prediction_device(name) if kind == "run" else automatic_device()
                self._predictor = (
                    Predictor.from_run(name, place.device) if kind == "run" else
                    Predictor.imagenet(name, place.device, callbacks, cancel))
                self._key, self.where = stamp, place.text
            return self._predictor


@dataclass(frozen=True)
class Channel:
    """Which model a job uses (`key` in `cache`) and where its results go: `stream`'s signals,
    tagged with the page's `generation` so that results of a cleared batch are dropped."""

    cache: PredictorCache
    key: tuple[str, str]
    generation: int
    stream: Stream


def predict_stream(channel: Channel, paths: list[str], top_k: int, callbacks: list,
                   cancel: Any) -> int:
    """Classify `paths` chunk by chunk, emitting each chunk's results; returns how many."""
    from ...core import Progress, check, emit, folder_labels

    cache, generation, stream = channel.cache, channel.generation, channel.stream
    predictor = cache.get(channel.key, callbacks, cancel)
    truths = folder_labels(paths, predictor.classes)
    try:
        for start in range(0, len(paths), CHUNK):
            check(cancel)
            results = _classify(cache, predictor, paths[start:start + CHUNK], top_k, cancel)
            for result, truth in zip(results, truths[start:start + CHUNK], strict=True):
                result.truth = truth
            stream.chunk.emit(generation, results)
            emit(callbacks, Progress("predict", start + len(results), len(paths)))
    finally:
        release_freed_memory()
    return len(paths)


def release_freed_memory() -> None:
    """Hand the heap that a batch's activations left free back to the system. glibc keeps it
    otherwise: measured on a 200-image batch with EfficientNet-Lite0, 315 MB of the window's
    resident memory was such free heap."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc (musl): nothing to trim
            pass


def _classify(cache: PredictorCache, predictor: Any, paths: list[str], top_k: int,
              cancel: Any) -> list[Result]:
    from ...core import ImageError, cancel_points

    images: dict[int, Image.Image] = {}
    errors: dict[int, str] = {}
    for i, path in enumerate(paths):
        try:
            images[i] = predictor.load(path)
        except ImageError as exc:
            errors[i] = exc.reason
    with cache.use, cancel_points(predictor.model, cancel):
        tops = iter(predictor.predict_answers(list(images.values()), top_k))
    out = []
    for i, path in enumerate(paths):
        if i in errors:
            out.append(Result(path, [], errors[i], None))
            continue
        top, answers = next(tops)  # several tasks: every task's answer besides the first's
        out.append(Result(path, top, None, _thumbnail(images[i]), tasks=answers))
    return out


def _thumbnail(image: Image.Image) -> bytes:
    small = image.copy()
    small.thumbnail((THUMB, THUMB))
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def cam_overlays(channel: Channel, jobs: list[tuple[int, str]], callbacks: list,
                 cancel: Any) -> int:
    """Grad-CAM overlays, at thumbnail size, for the (row, path) pairs; emitted one by one."""
    from ...core import ImageError, cancel_points, check, overlay

    cache = channel.cache
    predictor = cache.get(channel.key, callbacks, cancel)
    try:
        for row, path in jobs:
            check(cancel)
            try:
                image = predictor.load(path)
            except ImageError:
                continue
            with cache.use, cancel_points(predictor.model, cancel):
                heat = predictor.gradcam(image)
            picture = overlay(predictor.crop(image), heat)
            picture.thumbnail((THUMB, THUMB))
            channel.stream.cam.emit(channel.generation, row, pil_to_qimage(picture))
    finally:
        release_freed_memory()  # the backward passes' buffers, as after a batch
    return len(jobs)
