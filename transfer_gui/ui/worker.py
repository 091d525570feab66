"""Running engine work in a QThread and turning its events into Qt signals.

`start_job(fn, parent)` runs `fn(callbacks, cancel)` in a new thread. The engine's events reach
the GUI thread in batches (`Job.events`, at most about ten a second, but epoch, fit and message
events at once), so a plot can keep every step without redrawing for each one. Widgets are only
touched by slots in the GUI thread.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from ..core import BatchEnded, Callback, CancelToken, Progress

FLUSH_SECONDS = 0.1
_LIVE: set[Job] = set()  # keeps running tasks alive and lets tests find dangling threads
_ACCEPTING = [True]  # False once the application is shutting down


class Bridge(Callback):
    """Collects engine events in the worker thread and emits them in batches."""

    def __init__(self, emit: Callable[[list], None]) -> None:
        self._emit = emit
        self._pending: list[Any] = []
        self._last = 0.0

    def _add(self, event: Any) -> None:
        self._pending.append(event)
        now = time.monotonic()
        urgent = not isinstance(event, BatchEnded | Progress) or (  # an epoch's last step:
            isinstance(event, BatchEnded) and event.batch >= event.steps_per_epoch)  # now, so
        # that the validation after it is timed apart from the steps
        if urgent or now - self._last >= FLUSH_SECONDS:
            self.flush()
            self._last = now

    def flush(self) -> None:
        if self._pending:
            batch, self._pending = self._pending, []
            self._emit(batch)

    on_fit_start = on_batch_end = on_epoch_end = on_fit_end = _add
    on_progress = on_message = _add


class _Runner(QObject):
    """Lives in the worker thread; runs the function once."""

    events = Signal(list)
    succeeded = Signal(object)
    failed = Signal(str, str)
    done = Signal()

    def __init__(self, fn: Callable[[list, CancelToken], Any], cancel: CancelToken) -> None:
        super().__init__()
        self._fn = fn
        self._cancel = cancel
        self.error: BaseException | None = None  # set before `failed` is emitted

    @Slot()
    def run(self) -> None:
        bridge = Bridge(self.events.emit)
        try:
            result = self._fn([bridge], self._cancel)
            bridge.flush()
            self.succeeded.emit(result)
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the GUI
            bridge.flush()
            self.error = exc
            self.failed.emit(_message(exc), traceback.format_exc())
        finally:
            self.done.emit()


def _message(exc: BaseException) -> str:
    """The engine's own errors already read as sentences; others get their type's name."""
    text = str(exc).strip()
    ours = type(exc).__module__.startswith("transfer_gui.core")
    if (ours or isinstance(exc, OSError)) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Job(QObject):
    """A handle on one piece of background work: its signals, `cancel()` and `wait()`."""

    events = Signal(list)
    succeeded = Signal(object)
    failed = Signal(str, str)  # message, details
    done = Signal()

    def __init__(self, fn: Callable[[list, CancelToken], Any], name: str) -> None:
        # No Qt parent: the task outlives the widget that started it until its thread ends
        # (the module keeps it alive), so a closing page never deletes a running task.
        super().__init__()
        self.name = name
        self.token = CancelToken()
        self.qthread = QThread()
        self.qthread.setObjectName(name)
        runner = _Runner(fn, self.token)
        runner.moveToThread(self.qthread)
        self.qthread.started.connect(runner.run)
        runner.events.connect(self.events)
        runner.succeeded.connect(self.succeeded)
        runner.failed.connect(self.failed)
        # quit() is thread-safe; a direct call ends the thread's loop even while the GUI
        # thread is blocked in wait() (a queued call would only run after the wait).
        runner.done.connect(self.qthread.quit, Qt.ConnectionType.DirectConnection)
        # The runner is deleted in the GUI thread once its thread has ended, never by a
        # deleteLater in the worker thread: ~QObject there holds Qt's connection locks while
        # PySide takes the GIL for the Python subclass, and the GUI thread, holding the GIL,
        # can wait on those same locks in any connect(): a deadlock (seen in a QLabel.setText).
        self.qthread.finished.connect(self._on_thread_finished)
        self._runner: _Runner | None = runner
        self._error: BaseException | None = None

    @property
    def error(self) -> BaseException | None:
        """The exception the work raised, for slots of `failed` that need more than its text
        (the engine's errors carry structured fields)."""
        return self._runner.error if self._runner is not None else self._error

    def start(self) -> Job:
        """Start the thread (unless the application is shutting down: then nothing runs)."""
        if _ACCEPTING[0]:
            _LIVE.add(self)
            self.qthread.start()
        return self

    def cancel(self) -> None:
        self.token.cancel()

    @property
    def running(self) -> bool:
        return self in _LIVE

    def wait(self, ms: int = 30_000) -> bool:
        """Block until the thread ends (use only when quitting or in tests)."""
        return self.qthread.wait(ms) if self in _LIVE else True

    @Slot()
    def _on_thread_finished(self) -> None:
        _LIVE.discard(self)
        self._error = self.error
        self._runner = None  # its thread has ended: the C++ object is deleted here
        self.done.emit()
        self.qthread.deleteLater()
        self.deleteLater()


def start_job(fn: Callable[[list, CancelToken], Any], name: str,
               parent: QObject | None = None) -> Job:
    """Run `fn(callbacks, cancel)` in a new thread. `parent` is accepted for readability at
    call sites; the task's lifetime is its thread's."""
    return Job(fn, name).start()


def is_cancelled(error: BaseException | None) -> bool:
    """Whether a task's failure is the user's Stop (the engine's `Cancelled`)."""
    from ..core import Cancelled

    return isinstance(error, Cancelled)


def live_jobs() -> list[Job]:
    return list(_LIVE)


def accept_jobs(accepting: bool) -> None:
    """Stop (or resume) starting new tasks: a closing window must not start work it cannot
    wait for."""
    _ACCEPTING[0] = accepting


def cancel_all(wait_ms: int = 10_000) -> bool:
    """Cancel every running task and wait for their threads; True if all ended."""
    tasks = live_jobs()
    for task in tasks:
        task.cancel()
    return all(task.qthread.wait(wait_ms) for task in tasks)
