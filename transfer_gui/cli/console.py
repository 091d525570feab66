"""Terminal output for the command line: tables, a progress bar, and the engine's sentences
for a run's events (`core.runwords`, the same the window shows)."""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from ..core import (
    BatchEnded,
    Callback,
    EpochEnded,
    FitEnded,
    FitStarted,
    Message,
    Progress,
    ended_line,
    epoch_line,
    message_line,
    started_line,
    to_dict,
)


def table(rows: Sequence[Sequence[Any]], header: Sequence[str], out: TextIO | None = None) -> None:
    cells = [[str(c) for c in row] for row in [header, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for n, row in enumerate(cells):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)
        if n == 0:
            print("  ".join("-" * w for w in widths), file=out)


def print_confusion(classes: Sequence[str], matrix: Sequence[Sequence[int]],
                    out: TextIO | None = None, width: int | None = None) -> None:
    """The confusion matrix with its columns named: by the class names when the table fits
    the terminal, otherwise by numbers that the rows (and a legend line) give the names of."""
    width = width or shutil.get_terminal_size().columns
    corner = "true \\ predicted"
    first = max([len(corner), *(len(c) for c in classes)])
    cells = max((len(str(v)) for row in matrix for v in row), default=1)
    named = first + sum(max(len(c), cells) + 2 for c in classes) <= width
    if named:
        print("confusion matrix (rows: true class, columns: predicted class)", file=out)
        header = [corner, *classes]
        rows = [[name, *row] for name, row in zip(classes, matrix, strict=True)]
    else:
        print("confusion matrix (rows: true class, columns: predicted class, numbered as "
              "the rows)", file=out)
        header = [corner, *[str(i) for i in range(len(classes))]]
        rows = [[f"{i} {name}", *row] for i, (name, row) in enumerate(zip(classes, matrix,
                                                                           strict=True))]
    table(rows, header, out)
    if not named:
        legend = ", ".join(f"{i} = {name}" for i, name in enumerate(classes))
        print(f"columns: {legend}", file=out)


def print_json(data: Any, out: TextIO | None = None) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False), file=out or sys.stdout)


class ConsoleReporter(Callback):
    """Prints one line per epoch (or one JSON object per epoch with `as_json`), and a live
    progress bar on stderr when it is a terminal."""

    def __init__(self, as_json: bool = False, out: TextIO | None = None,
                 err: TextIO | None = None) -> None:
        self.as_json = as_json
        self.out, self.err = out or sys.stdout, err or sys.stderr
        self.live = self.err.isatty()
        self._last_draw = 0.0
        self._drawn = False
        self._resumed_after = 0

    def _clear(self) -> None:
        if self._drawn:
            self.err.write("\r\033[K")
            self._drawn = False

    def _bar(self, text: str, done: int, total: int) -> None:
        if not self.live or (time.monotonic() - self._last_draw < 0.1 and done < total):
            return
        self._last_draw = time.monotonic()
        width = max(10, min(40, shutil.get_terminal_size().columns - len(text) - 12))
        filled = int(width * done / total) if total else 0
        self.err.write(f"\r\033[K{text} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        self.err.flush()
        self._drawn = True

    def on_fit_start(self, event: FitStarted) -> None:
        self._resumed_after = event.start_epoch
        if self.as_json:
            print(json.dumps(to_dict(event)), file=self.out, flush=True)
            return
        print(started_line(event), file=self.out, flush=True)

    def on_batch_end(self, event: BatchEnded) -> None:
        self._bar(f"epoch {event.epoch} loss {event.loss:.4f} {event.images_per_s:.0f} img/s",
                  event.batch, event.steps_per_epoch)

    def on_progress(self, event: Progress) -> None:
        if event.total:
            self._bar(event.phase, event.done, event.total)

    def on_epoch_end(self, event: EpochEnded) -> None:
        self._clear()
        if self.as_json:
            print(json.dumps(to_dict(event)), file=self.out, flush=True)
            return
        print(epoch_line(event), file=self.out, flush=True)

    def on_fit_end(self, event: FitEnded) -> None:
        self._clear()
        if self.as_json:
            print(json.dumps(to_dict(event)), file=self.out, flush=True)
            return
        print(ended_line(event, self._resumed_after), file=self.out, flush=True)

    def on_message(self, event: Message) -> None:
        self._clear()
        if self.as_json:
            print(json.dumps(to_dict(event)), file=self.err, flush=True)
        else:
            print(message_line(event), file=self.err, flush=True)
