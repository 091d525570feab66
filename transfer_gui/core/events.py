"""Events that long-running engine work reports, the callback interface, cancellation, and the
`Work` that carries the receivers and the cancel token through the engine as one object.

Events are small frozen dataclasses of plain Python numbers and strings (never tensors), so they
can cross threads or be printed as JSON as they are.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FitStarted:
    epochs: int
    steps_per_epoch: int
    train_size: int
    val_size: int
    device: str
    trainable_params: int
    total_params: int
    start_epoch: int = 0  # epochs already done (> 0 when resuming)
    feature_cache: bool = False  # only the head trains, on cached features


@dataclass(frozen=True)
class BatchEnded:
    epoch: int  # 1-based
    batch: int  # 1-based within the epoch
    steps_per_epoch: int
    step: int  # global, 1-based
    loss: float
    lr: float
    images_per_s: float


@dataclass(frozen=True)
class EpochEnded:
    epoch: int  # 1-based
    epochs: int
    train_loss: float
    train_acc: float
    val_loss: float | None
    val_acc: float | None
    lr: float
    images_per_s: float
    seconds: float
    is_best: bool
    target_acc: float | None = None  # domain adaptation with target labels (evaluation only)
    task_acc: dict[str, float] | None = None  # several tasks: each one's validation accuracy


@dataclass(frozen=True)
class FitEnded:
    status: str  # "completed", "cancelled", "early-stopped" or "failed"
    epochs_run: int
    best_epoch: int | None
    best_val_acc: float | None
    best_val_loss: float | None
    seconds: float
    run_dir: str
    message: str = ""
    target_acc: float | None = None  # the adapted model's, when the target folder has labels


@dataclass(frozen=True)
class Progress:
    """Progress of a phase other than training steps (scanning, feature extraction, evaluation)."""

    phase: str
    done: int
    total: int


@dataclass(frozen=True)
class SweepProgress(Progress):
    """A step of the learning-rate range test: progress, and the point the loss-vs-rate curve
    gains (the step's rate and its training loss)."""

    lr: float
    loss: float


@dataclass(frozen=True)
class Message:
    level: str  # "info", "warning" or "error"
    text: str


Event = FitStarted | BatchEnded | EpochEnded | FitEnded | Progress | SweepProgress | Message

_METHODS: dict[type, str] = {
    FitStarted: "on_fit_start",
    BatchEnded: "on_batch_end",
    EpochEnded: "on_epoch_end",
    FitEnded: "on_fit_end",
    Progress: "on_progress",
    SweepProgress: "on_progress",
    Message: "on_message",
}


class Callback:
    """Receives engine events. Override the methods of interest; the rest do nothing."""

    def on_fit_start(self, event: FitStarted) -> None: ...
    def on_batch_end(self, event: BatchEnded) -> None: ...
    def on_epoch_end(self, event: EpochEnded) -> None: ...
    def on_fit_end(self, event: FitEnded) -> None: ...
    def on_progress(self, event: Progress) -> None: ...
    def on_message(self, event: Message) -> None: ...


class Recorder(Callback):
    """Keeps every event it receives, in order (useful for tests and scripts)."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def _keep(self, event: Any) -> None:
        self.events.append(event)

    on_fit_start = on_batch_end = on_epoch_end = on_fit_end = _keep
    on_progress = on_message = _keep

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


def emit(callbacks: Iterable[Callback], event: Any) -> None:
    """Send `event` to the matching method of every callback."""
    method = _METHODS[type(event)]
    for callback in callbacks:
        getattr(callback, method)(event)


def to_dict(event: Any) -> dict[str, Any]:
    return {"event": type(event).__name__, **dataclasses.asdict(event)}


_KINDS: dict[str, type] = {kind.__name__: kind for kind in _METHODS}


def from_dict(data: Any) -> Any:
    """The event `to_dict` made `data` from, or None when it is no event this release knows
    (fields it does not know are left out; one it lacks makes it unknown)."""
    kind = _KINDS.get(str(data.get("event"))) if isinstance(data, dict) else None
    if kind is None:
        return None
    names = {f.name for f in dataclasses.fields(kind)}
    try:
        return kind(**{k: v for k, v in data.items() if k in names})
    except TypeError:
        return None


class Cancelled(Exception):
    """Raised inside engine work when its cancel token was set."""


class CancelToken:
    """Cooperative cancellation: the owner calls `cancel()`, the work checks between batches."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled()


def check(cancel: CancelToken | None) -> None:
    """Raise `Cancelled` if `cancel` is set (a `None` token never cancels)."""
    if cancel is not None:
        cancel.check()


class Work:
    """One piece of engine work as its code sees it: where its events go (`emit`), whether it
    was stopped (`check`, `cancelled`) and how far it is (`progress`). The window and the
    command line hand the engine receivers and a cancel token; the entry points wrap them in a
    task (`Work.of`) and everything below takes that one object."""

    def __init__(self, callbacks: Iterable[Callback] = (),
                 cancel: CancelToken | None = None) -> None:
        self.receivers = list(callbacks)
        self.watched = cancel is not None  # someone outside holds the token and may stop it
        self.token = cancel if cancel is not None else CancelToken()

    @classmethod
    def of(cls, callbacks: Work | Iterable[Callback] = (),
           cancel: CancelToken | None = None) -> Work:
        """`callbacks` itself when it is a task already, else a task over it and `cancel`."""
        return callbacks if isinstance(callbacks, Work) else cls(callbacks, cancel)

    def emit(self, event: Any) -> None:
        emit(self.receivers, event)

    def message(self, level: str, text: str) -> None:
        self.emit(Message(level, text))

    def progress(self, done: int, total: int, what: str) -> None:
        self.emit(Progress(what, done, total))

    def check(self) -> None:
        self.token.check()

    def cancel(self) -> None:
        self.token.cancel()

    @property
    def cancelled(self) -> bool:
        return self.token.cancelled

    def adding(self, *receivers: Callback) -> Work:
        """The same work (same token), its events also going to `receivers`."""
        return self._with([*self.receivers, *receivers])

    def quiet(self) -> Work:
        """The same work (same token) with no receivers: for inner steps whose events the
        user does not see."""
        return self._with([])

    def _with(self, receivers: list[Callback]) -> Work:
        task = Work(receivers, self.token)
        task.watched = self.watched
        return task
