"""Frames from a camera: recording bursts into a class, and live prediction that never lags.

Every frame, from a real camera or a generated source, takes the same path: `LiveSession.offer`
hands it to the recorder (saved into the class being recorded, at most `rate` frames a
second) and, while playing, to a one-slot mailbox that the prediction loop empties. A frame
that arrives before the model took the previous one replaces it (that one is dropped and
counted), so a model slower than the camera answers for the newest frame, never a backlog.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..data.labelpool import LabelPool, check_class_name
from ..events import CancelToken

TopK = list[tuple[str, float]]


class LatestFrame:
    """A one-slot mailbox: `put` replaces an untaken frame (counted in `dropped`)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: np.ndarray | None = None
        self.dropped = 0
        self.taken = 0

    def put(self, frame: np.ndarray) -> None:
        with self._cond:
            if self._frame is not None:
                self.dropped += 1
            self._frame = frame
            self._cond.notify()

    def take(self, timeout: float = 0.1) -> np.ndarray | None:
        with self._cond:
            self._cond.wait_for(lambda: self._frame is not None, timeout)
            frame, self._frame = self._frame, None
            if frame is not None:
                self.taken += 1
            return frame


class BurstRecorder:
    """Saves frames into `pool`'s folder of a class, at most `rate` a second, and labels them."""

    def __init__(self, pool: LabelPool, rate: float = 5.0) -> None:
        self.pool, self.rate = pool, rate
        self.label: str | None = None
        self._last = -1e9
        self.saved: list[str] = []

    def start(self, label: str) -> None:
        self.label = check_class_name(label)
        self._last = -1e9

    def stop(self) -> list[str]:
        """Stop; label the burst's frames (one undo step) and return them."""
        burst, self.saved, label, self.label = self.saved, [], self.label, None
        if burst and label:
            self.pool.files = sorted({*self.pool.files, *burst})
            self.pool.set_label(burst, label)
        return burst

    def offer(self, frame: np.ndarray, now: float) -> str | None:
        """Save `frame` if recording and its turn has come; returns its file (relative)."""
        if self.label is None or now - self._last < 1.0 / self.rate:
            return None
        self._last = now
        folder = self.pool.root / self.label
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{self.label}/frame_{time.strftime('%Y%m%d-%H%M%S')}_{len(self.saved):04d}"
        n = 0
        while (self.pool.root / f"{name}{'_' + str(n) if n else ''}.jpg").exists():
            n += 1
        file = f"{name}{'_' + str(n) if n else ''}.jpg"
        Image.fromarray(frame).save(self.pool.root / file, quality=92)
        self.saved.append(file)
        return file


@dataclass(frozen=True)
class LiveResult:
    top_k: TopK
    seconds: float  # the model's time for this frame
    dropped: int  # frames dropped so far (the model was busy)
    predicted: int  # frames predicted so far


class LiveSession:
    """The one path of every frame: recording and, while playing, prediction."""

    def __init__(self, recorder: BurstRecorder | None = None) -> None:
        self.recorder = recorder
        self.mailbox = LatestFrame()
        self.playing = False

    def offer(self, frame: np.ndarray, now: float | None = None) -> str | None:
        now = time.monotonic() if now is None else now
        saved = self.recorder.offer(frame, now) if self.recorder is not None else None
        if self.playing:
            self.mailbox.put(frame)
        return saved


def predict_live(mailbox: LatestFrame, predict: Callable[[Image.Image], TopK],
                 emit: Callable[[LiveResult], None], cancel: CancelToken) -> int:
    """Predict the newest frame until cancelled; returns the frames predicted."""
    while not cancel.cancelled:
        frame = mailbox.take(0.05)
        if frame is None:
            continue
        start = time.perf_counter()
        top = predict(Image.fromarray(frame))
        emit(LiveResult(top, time.perf_counter() - start, mailbox.dropped, mailbox.taken))
    return mailbox.taken


class PatternSource:
    """Generated frames (a coloured disc moving over a gradient): for tests and for trying
    the camera view without a camera. `colour` picks the disc's colour."""

    def __init__(self, size: tuple[int, int] = (160, 120), colour: tuple[int, int, int] = (
            220, 40, 40)) -> None:
        self.size, self.colour, self.count = size, colour, 0
        w, h = size
        self._base = np.zeros((h, w, 3), np.uint8)
        self._base[..., 2] = np.linspace(40, 200, w, dtype=np.uint8)[None, :]
        self._yy, self._xx = np.mgrid[:h, :w]

    def read(self) -> np.ndarray:
        w, h = self.size
        t = self.count / 15
        cx, cy = w / 2 + w / 4 * np.cos(t), h / 2 + h / 4 * np.sin(t)
        frame = self._base.copy()
        inside = (self._xx - cx) ** 2 + (self._yy - cy) ** 2 < (min(w, h) / 6) ** 2
        frame[inside] = self.colour
        self.count += 1
        return frame


def pattern_predictor(image: Image.Image) -> TopK:
    """A stand-in model for the generated source: is there a red disc in the frame?"""
    x = np.asarray(image.convert("RGB"), dtype=np.int16).reshape(-1, 3)
    share = float(((x[:, 0] > 150) & (x[:, 2] < 100)).mean())
    red = min(1.0, share * 10)
    return sorted([("red", red), ("blue", 1 - red)], key=lambda p: -p[1])
