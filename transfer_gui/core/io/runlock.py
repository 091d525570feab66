"""One writer per run folder.

A training run holds an operating-system lock on `RUN/.lock` (`filelock`: `flock` where the file
system has it, a lock file elsewhere) for as long as it writes the folder, and says who it is in
`RUN/.lock.json` (process id, computer, start time). A second writer is refused at once and told
who holds the folder. The operating system drops the lock of a process that dies, so a folder
left by a killed run is simply taken over; its stale `.lock.json` is recognised and reported.
Readers (evaluate, predict, compare, a window watching a run) never take the lock and never wait.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .. import atomic
from ..events import Task
from .runmeta import RunError

LOCK = ".lock"
INFO = ".lock.json"
ORPHAN_WAIT = 10.0  # seconds: children of a killed writer (data loaders) may hold it a moment


class FolderBusy(RunError):
    """Another process is writing the run folder; `holder` says which (None: unknown)."""

    refusal = True  # raised before a run does any work or writes anything

    def __init__(self, message: str, holder: Holder | None) -> None:
        super().__init__(message)
        self.holder = holder


@dataclass(frozen=True)
class Holder:
    """Who writes (or wrote) a run folder."""

    pid: int
    host: str
    started: float  # time.time()
    command: str = ""

    def here(self) -> bool:
        return self.host == socket.gethostname()

    def alive(self) -> bool:
        """False only when it surely ended: a process of this computer that no longer runs."""
        return not self.here() or atomic.process_alive(self.pid)

    def describe(self) -> str:
        day = time.localtime(self.started)
        when = time.strftime("%H:%M" if day[:3] == time.localtime()[:3] else "%Y-%m-%d %H:%M",
                             day)
        where = "this computer" if self.here() else f"the computer {self.host!r}"
        return f"process {self.pid} on {where} since {when}"


def holder(folder: str | os.PathLike[str]) -> Holder | None:
    """Who last said it writes `folder` (a reader's view: no lock is taken)."""
    try:
        data = json.loads((Path(folder) / INFO).read_text(encoding="utf-8"))
        return Holder(int(data["pid"]), str(data["host"]), float(data["started"]),
                      str(data.get("command", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def busy(folder: str | os.PathLike[str]) -> Holder | None:
    """The live writer of `folder`, if one says so (for readers: may be a moment stale)."""
    found = holder(folder)
    return found if found is not None and found.alive() and found.pid != os.getpid() else None


class RunLock:
    """The write lock of one run folder, taken with `acquire()` and given back with `release()`."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        from filelock import FileLock

        self.folder = Path(folder)
        self._lock = FileLock(str(self.folder / LOCK), timeout=0)
        self._created = False

    def acquire(self, task: Task | None = None) -> None:
        """Take the folder or raise `FolderBusy` at once, naming who holds it."""
        self._created = not self.folder.exists()
        self.folder.mkdir(parents=True, exist_ok=True)
        before = holder(self.folder)
        if not self._try(0) and not (before and not before.alive() and self._try(ORPHAN_WAIT)):
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
    def held(self, task: Task | None = None) -> Iterator[RunLock]:
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
