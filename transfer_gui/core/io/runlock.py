"""One writer per run folder.

A training run holds an operating-system lock on `RUN/.lock` (`filelock`: `flock` where the file
system has it, a lock file elsewhere) for as long as it writes the folder, and says who it is in
`RUN/.lock.json` (process id, computer, start time). A second writer is refused at once and told
who holds the folder. The operating system drops the lock of a process that dies, so a folder
left by a killed run is simply taken over; its stale `.lock.json` is recognised and reported.
Readers (evaluate, predict, compare, a window watching a run) never take the lock and never wait.

A reader can still tell a run that is no longer written (`writer_gone`): its `run.json` says
"running" while nothing holds the lock (a writer killed with SIGKILL, or its computer gone),
so the run is reported as interrupted (`runmeta.run_info`), resumable, not as running.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from .. import atomic
from ..events import Work
from .runmeta import RunError
from .writer import INFO, LOCK, READER_WAIT, Holder, busy, holder, writer_gone

__all__ = ["INFO", "LOCK", "FolderBusy", "Holder", "RunLock", "busy", "clear_folder", "holder",
           "writer_gone"]

ORPHAN_WAIT = 10.0  # seconds: children of a killed writer (data loaders) may hold it a moment


class FolderBusy(RunError):
    """Another process is writing the run folder; `holder` says which (None: unknown)."""

    refusal = True  # raised before a run does any work or writes anything

    def __init__(self, message: str, holder: Holder | None) -> None:
        super().__init__(message)
        self.holder = holder


class RunLock:
    """The write lock of one run folder, taken with `acquire()` and given back with `release()`."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        from filelock import FileLock

        self.folder = Path(folder)
        self._lock = FileLock(str(self.folder / LOCK), timeout=0)
        self._created = False

    def acquire(self, task: Work | None = None) -> None:
        """Take the folder or raise `FolderBusy` at once, naming who holds it."""
        self._created = not self.folder.exists()
        self.folder.mkdir(parents=True, exist_ok=True)
        before = holder(self.folder)
        orphan = before is not None and not before.alive()
        if not self._try(READER_WAIT) and not (orphan and self._try(ORPHAN_WAIT)):
            raise FolderBusy(_busy_text(self.folder, holder(self.folder)), holder(self.folder))
        try:
            if before is not None and before.pid != os.getpid() and task is not None:
                task.message("info", f"took over {self.folder} from {before.describe()}, "
                                     "which stopped without releasing it")
            atomic.write_json(self.folder / INFO, {
                "pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                "command": " ".join(sys.argv)[:500]})
        except BaseException:
            self._lock.release()
            raise

    def _try(self, wait: float) -> bool:
        from filelock import Timeout

        try:
            self._lock.acquire(timeout=wait)
        except Timeout:
            return False
        return True

    def release(self) -> None:
        with contextlib.suppress(OSError):
            (self.folder / INFO).unlink()  # first: a reader never sees a released folder as held
        self._lock.release()
        if self._created and _only_lock(self.folder):  # a refused run leaves no folder behind
            with contextlib.suppress(OSError):
                (self.folder / LOCK).unlink()
                self.folder.rmdir()

    @contextlib.contextmanager
    def held(self, task: Work | None = None) -> Iterator[RunLock]:
        self.acquire(task)
        try:
            yield self
        finally:
            self.release()


def _only_lock(folder: Path) -> bool:
    try:
        return os.listdir(folder) == [LOCK]
    except OSError:
        return False


def _busy_text(folder: Path, who: Holder | None) -> str:
    by = who.describe() if who is not None else "another process"
    return (f"{folder} is being written by {by}: wait for that run to end (or stop it), "
            "or choose another folder")


def clear_folder(folder: str | os.PathLike[str]) -> None:
    """Empty a run folder for a new run (--overwrite), refused while another process writes
    it."""
    import shutil

    lock = RunLock(folder)
    with lock.held():
        for entry in Path(folder).iterdir():
            if entry.name in (LOCK, INFO):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
