"""The loss and learning rate of every training step, kept in the run folder.

`steps.jsonl` holds one line per finished epoch, so a resumed run (or a window watching a run
folder) can draw the step curve of the epochs before a stop. It is written (atomically, as a
whole) before the epoch's checkpoint; a resume trims it to the checkpoint's epochs, so an epoch
that is repeated is never listed twice. No torch here: the GUI thread reads it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .. import atomic
from ..events import BatchEnded, Callback

STEPS = "steps.jsonl"


class StepLog(Callback):
    """Collects the steps of the running epoch; `epoch_done` adds them as the epoch's line."""

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        self.path = Path(run_dir) / STEPS
        self._steps: list[BatchEnded] = []  # the running epoch's
        self._epochs: list[dict[str, Any]] = []  # the finished epochs', as in the file

    def on_batch_end(self, event: BatchEnded) -> None:
        self._steps.append(event)

    def epoch_done(self, epoch: int) -> None:
        steps = [s for s in self._steps if s.epoch == epoch]
        self._steps = []
        self._epochs.append({
            "epoch": epoch, "steps_per_epoch": steps[0].steps_per_epoch if steps else 0,
            "batch": [s.batch for s in steps], "loss": [_short(s.loss) for s in steps],
            "lr": [_short(s.lr) for s in steps]})
        self._write()

    def trim(self, epochs_done: int) -> None:
        """Keep only the epochs a resume starts after (the rest is trained again)."""
        self._steps = []
        self._epochs = [e for e in read_steps(self.path.parent) if e["epoch"] <= epochs_done]
        if self.path.exists():
            self._write()

    def _write(self) -> None:
        atomic.write_text(self.path, "".join(json.dumps(e) + "\n" for e in self._epochs))


def _short(value: float) -> float:
    return float(f"{value:.6g}")  # a plot needs no more; the file stays small


def read_steps(run_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The finished epochs' steps, oldest first: dicts with `epoch`, `steps_per_epoch` and the
    lists `batch`, `loss` and `lr`. A run without the file (an older run, a classic head)
    gives []; a damaged line is left out."""
    try:
        text = (Path(run_dir) / STEPS).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    epochs = {}
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("epoch"), int):
            epochs[entry["epoch"]] = entry  # a repeated epoch: the later line wins
    return [epochs[e] for e in sorted(epochs)]
