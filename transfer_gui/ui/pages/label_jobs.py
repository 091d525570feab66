"""The Label page's background work: the pool's features once, then the probe's suggestions.

Features come first (from the cache when the images were seen before), in a worker thread.
Suggestions are retrained after every few labels in a process of their own, which holds the
features: a probe, a cross-validation and k-means in a thread would hold Python's GIL in
stretches that the grid feels as pauses of a few hundred milliseconds. A request made while
one runs is remembered and run once that one ends, so a fast labeller never queues a pile of
retrains, and the newest labels always get their turn.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from functools import partial
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Signal, Slot

from ...core import LabelPool, PoolFeatures, Progress, Suggestions, pool_features, suggest
from ..worker import Job, start_job

NEXT_COUNT = 100  # "label next" orders this many unlabelled images


class Suggester(QObject):
    """Features of a pool, and suggestions retrained on request."""

    features_ready = Signal()
    progressed = Signal(int, int)  # done, total (features)
    suggested = Signal(object)  # Suggestions
    failed = Signal(str, str)
    busy_changed = Signal(bool)
    _finished = Signal(int, object)  # generation, Future (from the pool's thread)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.features: PoolFeatures | None = None
        self.task: Job | None = None
        self.future: Future | None = None
        self._procs: ProcessPoolExecutor | None = None
        self._wanted: dict[str, str] | None = None
        self._generation = 0
        self.strategy = "auto"
        self._finished.connect(self._on_finished)
        app = QCoreApplication.instance()
        if app is not None:  # quitting ends the suggestions' process at once
            app.aboutToQuit.connect(self.cancel)

    @property
    def busy(self) -> bool:
        return self.task is not None or self.future is not None

    def load(self, pool: LabelPool, backbone: str) -> None:
        """Compute (or fetch) the features of `pool`'s images, then suggest."""
        self.cancel()  # the process holds the old features: a new one will hold these
        self._generation += 1
        self.features = None
        files = list(pool.files)
        fn: Callable[[list, Any], Any] = partial(_features, pool, backbone)
        self._start(fn, "label features", partial(self._on_features, self._generation, files),
                    dict(pool.labels))

    def request(self, labels: dict[str, str]) -> None:
        """Retrain on `labels` now, or as soon as the running work ends."""
        if self.features is None or self.busy:
            self._wanted = dict(labels)
            return
        if self._procs is None:
            self._procs = ProcessPoolExecutor(
                1, multiprocessing.get_context("spawn"), _hold, (self.features,))
        self.future = self._procs.submit(_suggest_held, dict(labels), self.strategy)
        self.future.add_done_callback(partial(self._announce, self._generation))
        self.busy_changed.emit(True)

    def cancel(self) -> None:
        """Stop the work: the features' thread, and the process that holds them."""
        if self.task is not None:
            self.task.cancel()
            for signal in (self.task.events, self.task.succeeded, self.task.failed,
                           self.task.done):
                signal.disconnect()  # its late results are for a pool no longer shown
            self.task = None
        self._wanted = None
        self.future = None
        if self._procs is not None:
            self._procs.shutdown(wait=False, cancel_futures=True)
            self._procs = None

    def _announce(self, generation: int, future: Future) -> None:
        """In the pool's thread: hand the result to the GUI thread (unless the page is gone:
        a cancelled request still calls back)."""
        try:
            self._finished.emit(generation, future)
        except RuntimeError:  # the Qt object was deleted
            pass

    @Slot(int, object)
    def _on_finished(self, generation: int, future: Future) -> None:
        if future is not self.future:
            return
        self.future = None
        error = future.exception()
        if error is not None:
            self.failed.emit(str(error) or type(error).__name__, "")
        elif generation == self._generation:
            self.suggested.emit(future.result())
        self._next()

    def _start(self, fn: Callable[[list, Any], Any], name: str,
               done: Callable[[object], None], wanted: dict[str, str] | None) -> None:
        self._wanted = wanted
        task = start_job(fn, name, self)
        self.task = task
        task.events.connect(self._on_events)
        task.succeeded.connect(done)
        task.failed.connect(self.failed)
        task.done.connect(partial(self._on_done, task))
        self.busy_changed.emit(True)

    @Slot(list)
    def _on_events(self, events: list) -> None:
        for event in events:
            if isinstance(event, Progress):
                self.progressed.emit(event.done, event.total)

    def _on_features(self, generation: int, files: list[str], result: object) -> None:
        if generation == self._generation and isinstance(result, PoolFeatures):
            self.features = result
            self.features_ready.emit()

    def _on_done(self, task: Job) -> None:
        if task is self.task:
            self.task = None
            self._next()

    def _next(self) -> None:
        wanted, self._wanted = self._wanted, None
        if wanted is not None and self.features is not None:
            self.request(wanted)
        else:
            self.busy_changed.emit(False)


def _features(pool: LabelPool, backbone: str, callbacks: list, cancel: Any) -> PoolFeatures:
    return pool_features(pool, backbone, callbacks=callbacks, cancel=cancel)


_HELD: list[PoolFeatures] = []  # in the suggestions' process: the pool's features


def _hold(features: PoolFeatures) -> None:
    _HELD[:] = [features]


def _suggest_held(labels: dict[str, str], strategy: str) -> Suggestions:
    return suggest(_HELD[0], labels, NEXT_COUNT, strategy)


def status_text(pool: LabelPool | None, suggestions: Suggestions | None, ready: bool,
                busy: bool, progress: tuple[int, int] | None) -> str:
    """The page's status line: labels so far, the labels' cross-validated accuracy, and where
    the suggestions are (`ready`: the features are read; `progress`: how far reading got)."""
    if pool is None:
        return ("Open a folder of images: some may already be sorted in class folders, the "
                "rest loose.")
    n, done = len(pool.files), len(pool.labelled())
    parts = [f"{done} of {n} images labelled, {len(pool.classes)} classes"]
    s = suggestions
    if s is not None and s.cv_accuracy is not None:
        parts.append(f"cross-validated accuracy of the labels so far: "
                     f"{100 * s.cv_accuracy:.0f} % (on {s.labelled})")
    if not ready:
        read, total = progress or (0, n)
        parts.append(f"reading the images for suggestions… {read}/{total}")
    elif busy:
        parts.append("suggestions: retraining…")
    elif s is not None:
        parts.append("suggestions up to date" if s.classes else
                     "suggestions start once two classes have labels")
    return " · ".join(parts)
