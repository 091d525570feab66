"""Every event of a run, one JSON line each, in the run folder's `events.jsonl`.

The run's one writer (`EventLog`; under torchrun, rank 0 only: the others are made with
`enabled=False`) appends each event the run emits (`events.to_dict`: the start, every step,
every epoch, messages, progress, the end) as one line, flushed at once, so a window can follow
a run started elsewhere (the command line, torchrun, a cluster job on a shared disk). Each line
is one `write` ending in its newline: a reader sees a line either complete or not yet ended,
and skips a line not yet ended until it is (`EventReader`). Epochs and the end are also synced
to the disk. Events sent before the run folder exists (checking the images, building the
network) wait in memory and are written when the record starts it.

A resumed run trims the log to the epochs its checkpoint holds (steps and epochs after them are
trained again): the file is replaced atomically, which a reader notices (`restarted`).
No torch here: the GUI thread reads it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any

from .. import atomic
from ..events import BatchEnded, Callback, EpochEnded, FitEnded, from_dict, to_dict

EVENTS = "events.jsonl"
CHUNK = 1 << 20  # what a reader takes at most per call: a long log is read over several


class EventLog(Callback):
    """Appends the run's events to `run_dir/events.jsonl` once `begin` is called (before:
    kept in memory). `enabled=False`: writes nothing (a process that is not the run's writer).
    A log that cannot be written never stops the run: it stops writing (`problem` says why)."""

    def __init__(self, run_dir: str | os.PathLike[str], enabled: bool = True) -> None:
        self.path = Path(run_dir) / EVENTS
        self.enabled = enabled
        self.problem = ""
        self._waiting: list[str] = []
        self._file: IO[str] | None = None
        self._begun = False

    def begin(self) -> None:
        """The run folder exists: write what waited, and every event from now on."""
        self._begun = True
        self._flush(sync=False)

    def _event(self, event: Any) -> None:
        if not self.enabled or self.problem:
            return
        self._waiting.append(json.dumps(to_dict(event)) + "\n")
        if self._begun:
            self._flush(sync=isinstance(event, EpochEnded | FitEnded))
        if isinstance(event, FitEnded):
            self.close()

    on_fit_start = on_batch_end = on_epoch_end = on_fit_end = _event
    on_progress = on_message = _event

    def _flush(self, sync: bool) -> None:
        if not self._waiting or not self.enabled or self.problem:
            return
        try:
            if self._file is None:
                self._file = _open_for_append(self.path)
            self._file.write("".join(self._waiting))  # whole lines, each ending in "\n"
            self._file.flush()
            if sync:
                os.fsync(self._file.fileno())
        except OSError as exc:  # a full disk: the run goes on, its log stops here
            self.problem = f"{self.path} cannot be written: {exc}"
            self.close()
        self._waiting = []

    def trim(self, epochs_done: int) -> None:
        """Leave out the steps and epochs after `epochs_done` (a resume trains them again)."""
        if not self.enabled:
            return
        self.close()
        kept = [line + "\n" for line in _lines(self.path) if _kept(line, epochs_done)]
        try:
            if self.path.exists():
                atomic.write_text(self.path, "".join(kept))
        except OSError as exc:
            self.problem = f"{self.path} cannot be written: {exc}"

    def close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None


def _open_for_append(path: Path) -> IO[str]:
    """`path` opened to append, a torn last line (a writer killed mid-line) cut off first."""
    if path.exists():
        with open(path, "rb+") as f:
            data = f.read()
            if data and not data.endswith(b"\n"):
                f.truncate(data.rfind(b"\n") + 1)
    return open(path, "a", encoding="utf-8")


def _lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    complete = text[:text.rfind("\n") + 1]
    return [line for line in complete.splitlines() if _decode(line) is not None]


def _kept(line: str, epochs_done: int) -> bool:
    event = _decode(line)
    return not (isinstance(event, BatchEnded | EpochEnded) and event.epoch > epochs_done)


def _decode(line: str | bytes) -> Any:
    try:
        return from_dict(json.loads(line))
    except (ValueError, UnicodeDecodeError):
        return None


class EventReader:
    """Reads a run folder's `events.jsonl` as it grows: each `read` returns the events of the
    lines completed since the last (at most `chunk` bytes of them; `behind` says whether more
    is there). A line not yet ended waits for its end; a line that is no event is skipped."""

    def __init__(self, run_dir: str | os.PathLike[str], chunk: int = CHUNK) -> None:
        self.path = Path(run_dir) / EVENTS
        self.chunk = chunk
        self._offset = 0  # bytes taken from the file (`_tail` included)
        self._tail = b""  # the start of a line not yet ended
        self._file_id: tuple[int, int] | None = None
        self._size = 0

    def read(self) -> tuple[bool, list[Any]]:
        """(restarted, events). `restarted`: the file was replaced or shrank since the last
        read (a resumed run trimmed it), and `events` are read from its start again."""
        try:
            stat = os.stat(self.path)
        except OSError:
            return False, []
        file_id, restarted = (stat.st_dev, stat.st_ino), False
        if self._file_id is not None and (file_id != self._file_id or
                                          stat.st_size < self._offset):
            self._offset, self._tail, restarted = 0, b"", True
        self._file_id, self._size = file_id, stat.st_size
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read(self.chunk)
        except OSError:
            return restarted, []
        self._offset += len(data)
        *lines, self._tail = (self._tail + data).split(b"\n")
        return restarted, [e for line in lines if (e := _decode(line)) is not None]

    @property
    def behind(self) -> bool:
        """Whether the file held more than the last read took."""
        return self._offset < self._size


def read_events(run_dir: str | os.PathLike[str]) -> list[Any]:
    """Every complete event in a run folder's `events.jsonl`, oldest first ([] without one)."""
    reader, events = EventReader(run_dir), []
    while True:
        _, new = reader.read()
        events += new
        if not reader.behind:
            return events
