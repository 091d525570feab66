"""Writes the Label page's labels.csv on a thread of its own, after every change.

Each change hands over a snapshot of the labels; the thread writes it atomically (the
engine's `write_labels`). Changes that arrive while a write runs are merged into the next
write: the file always ends at the newest state, and the GUI thread never waits on a disk's
fsync. `flush()` waits until what was handed over is on disk (closing, tests).
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, Signal

from ...core import write_labels


class LabelWriter(QObject):
    failed = Signal(str)  # why the last write failed (the labels stay in the window)
    written = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cond = threading.Condition()
        self._next: tuple[Path, dict[str, str], Path] | None = None
        self._writing = False
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="labels.csv", daemon=True)
        self._thread.start()
        app = QCoreApplication.instance()
        if app is not None:  # quitting waits for the last change to reach the disk
            app.aboutToQuit.connect(self.stop)

    def __call__(self, csv_path: Path, labels: dict[str, str], root: Path) -> None:
        with self._cond:
            self._next = (csv_path, labels, root)
            self._cond.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every handed-over state is written; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._next is None and not self._writing,
                                       timeout)

    def stop(self) -> None:
        self.flush()
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._next is not None or self._stopped)
                if self._stopped and self._next is None:
                    return
                job, self._next = self._next, None
                self._writing = job is not None
            if job is None:
                continue
            try:
                write_labels(*job)
            except OSError as exc:
                self.failed.emit(f"{job[0]} could not be written: {exc.strerror or exc}; the "
                                 "labels are kept in the window and written with the next "
                                 "change")
            else:
                self.written.emit()
            finally:
                with self._cond:
                    self._writing = False
                    self._cond.notify_all()
