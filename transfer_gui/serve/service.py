"""What the server does, without HTTP: decode uploads, classify them in shared batches, shape
the answers, count requests. The web layer (`app.py`) only parses and routes."""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core import UNCERTAIN_BELOW, ImageError, Predictor, RunError, UserError, run_info
from . import MAX_BATCH, WAIT_S
from .batcher import Batcher

MAX_IMAGES = 64  # per request: a larger batch belongs to `transfer-gui predict`


class ServeError(UserError):
    """A request the server refuses: `status` is its HTTP status, the message says why."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Ask:
    """One request's options: how many classes, and the cuts that flag or select."""

    top_k: int = 5
    uncertain_below: float = UNCERTAIN_BELOW  # a fraction: the top class under it is uncertain
    threshold: float | None = None  # replaces a multi-label task's own per-label cuts


class Stats:
    """Requests answered and the latency of the recent ones (thread-safe)."""

    def __init__(self, keep: int = 1000) -> None:
        self.served = 0
        self.failed = 0
        self._latencies: deque[float] = deque(maxlen=keep)
        self._lock = threading.Lock()

    def add(self, seconds: float, ok: bool) -> None:
        with self._lock:
            if ok:
                self.served += 1
                self._latencies.append(seconds)
            else:
                self.failed += 1

    def snapshot(self) -> dict[str, Any]:
        """Counts and the median and 95th-percentile latency of recent answers, in ms."""
        with self._lock:
            times = np.array(self._latencies) * 1000
            out: dict[str, Any] = {"served": self.served, "failed": self.failed}
        for name, q in (("p50_ms", 50), ("p95_ms", 95)):
            out[name] = float(np.percentile(times, q)) if len(times) else None
        return out


class Service:
    """A run's predictor behind a batcher; `predict` answers one request."""

    def __init__(self, predictor: Predictor, info: dict[str, Any] | None = None,
                 max_batch: int = MAX_BATCH, wait_s: float = WAIT_S) -> None:
        self.predictor = predictor
        self.info = info or {}
        self.stats = Stats()
        self.batcher = Batcher(predictor.probabilities, max_batch, wait_s)

    @classmethod
    def from_run(cls, run_dir: str | os.PathLike[str], device: str = "auto",
                 max_batch: int = MAX_BATCH, wait_s: float = WAIT_S) -> Service:
        try:
            info = run_info(run_dir)
        except (RunError, KeyError, ValueError) as exc:
            raise ServeError(f"{run_dir} is no readable run folder ({exc})") from None
        accuracy = info.best_val_acc
        extra = {"run": info.name, "accuracy": accuracy, "strategy": info.strategy}
        return cls(Predictor.from_run(run_dir, device), extra, max_batch, wait_s)

    def close(self) -> None:
        self.batcher.close()

    def model(self) -> dict[str, Any]:
        p = self.predictor
        out: dict[str, Any] = {
            **self.info, "classes": p.classes, "backbone": p.spec.name,
            "input_size": p.preprocess.image_size, "resize_size": p.preprocess.resize_size,
            "tasks": [t.to_dict() for t in p.tasks],
            "thresholds": p.thresholds, "max_batch": self.batcher.max_batch,
            "wait_ms": self.batcher.wait_s * 1000, "max_images": MAX_IMAGES,
        }
        return out

    def predict(self, uploads: Sequence[tuple[str, bytes]], ask: Ask) -> list[dict[str, Any]]:
        """One answer per upload, in order; any upload that is no usable image refuses the
        whole request (422) with a message naming it. Answers are counted here, refusals by
        the web layer (which also sees those refused before they reach the service)."""
        started = time.perf_counter()
        answers = self._answers(uploads, ask)
        self.stats.add(time.perf_counter() - started, ok=True)
        return answers

    def _answers(self, uploads: Sequence[tuple[str, bytes]], ask: Ask) -> list[dict[str, Any]]:
        check_ask(ask)
        if not uploads:
            raise ServeError("no image in the request: send the multipart field 'image' or "
                             "JSON {\"image\": BASE64} / {\"images\": [BASE64, ...]}")
        if len(uploads) > MAX_IMAGES:
            raise ServeError(f"{len(uploads)} images in one request; at most {MAX_IMAGES}",
                             413)
        images = []
        for name, data in uploads:
            try:
                images.append(self.predictor.load_bytes(data, name))
            except ImageError as exc:
                raise ServeError(f"{name}: {exc.reason}", 422) from None
        probs = self.batcher.submit(images).result()
        return [self._answer(row, ask) for row in probs]

    def _answer(self, probs: np.ndarray, ask: Ask) -> dict[str, Any]:
        top = self.predictor.top(probs, ask.top_k)
        out: dict[str, Any] = {
            "label": top[0][0],
            "top_k": [{"label": label, "probability": p} for label, p in top],
            "uncertain": top[0][1] < ask.uncertain_below,
        }
        tasks = self.predictor.answers(probs, ask.top_k, ask.threshold)
        if tasks:
            out["tasks"] = tasks
        return out


def check_ask(ask: Ask) -> None:
    if ask.top_k < 1:
        raise ServeError(f"top_k must be at least 1, not {ask.top_k}")
    if not 0 <= ask.uncertain_below <= 1:
        raise ServeError(f"uncertain_below is a probability from 0 to 1, not "
                         f"{ask.uncertain_below}")
    if ask.threshold is not None and not 0 <= ask.threshold <= 1:
        raise ServeError(f"threshold is a probability from 0 to 1, not {ask.threshold}")
