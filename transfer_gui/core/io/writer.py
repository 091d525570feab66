"""Who writes a run folder, as a reader sees it without taking the folder's lock: the writer's
note (`RUN/.lock.json`: process id, computer, start time) and whether the lock (`RUN/.lock`)
is held. `runlock` takes and gives back the lock; this module only looks.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from .. import atomic

LOCK = ".lock"
INFO = ".lock.json"
READER_WAIT = 0.5  # seconds: a reader testing the lock (`writer_gone`) holds it this long at most


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


def writer_gone(folder: str | os.PathLike[str]) -> bool:
    """Whether the process that writes `folder` has surely ended: the writer it names was a
    process of this computer that no longer runs, or nothing holds the lock (tested without
    waiting; a folder without a lock file, from before locks, is not judged)."""
    who = holder(folder)
    if who is not None and who.here() and who.pid == os.getpid():
        return False  # this process writes it (the window's own run)
    if who is not None and who.here() and not atomic.process_alive(who.pid):
        return True
    return _lock_free(Path(folder) / LOCK)


def _lock_free(path: Path) -> bool:
    """Take a shared lock on `path` at once and give it back: it was free. Shared, so the
    test conflicts only with a writer's exclusive lock."""
    try:
        import fcntl
    except ImportError:  # Windows: only the writer's record can tell
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return False  # held: the writer runs
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)
