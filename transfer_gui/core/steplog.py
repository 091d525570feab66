"""The loss and learning rate of every training step, kept in the run folder.

`steps.jsonl` holds one line per finished epoch, so a resumed run (or a window watching a run
folder) can draw the step curve of the epochs before a stop. The line is appended before the
epoch's checkpoint is written; a resume trims the file to the checkpoint's epochs, so an epoch
that is repeated is never listed twice. No torch here: the GUI thread reads it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from . import atomic
from .events import BatchEnded, Callback

STEPS = "steps.jsonl"


class StepLog(Callback):
    """Collects the steps of the running epoch; `epoch_done` appends them as one line."""

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        self.path = Path(run_dir) / STEPS
        self._steps: list[BatchEnded] = []

    def on_batch_end(self, event: BatchEnded) -> None:
        self._steps.append(event)

    def epoch_done(self, epoch: int) -> None:
        steps = [s for s in self._steps if s.epoch == epoch]
        self._steps = []
        line = {"epoch": epoch, "steps_per_epoch": steps[0].steps_per_epoch if steps else 0,
                "batch": [s.batch for s in steps], "loss": [s.loss for s in steps],
                "lr": [s.lr for s in steps]}
        try:
            with open(self.path, "a", encoding="utf-8") as file:
                file.write(json.dumps(line) + "\n")
        except OSError:
            pass  # only the plot of a later resume misses it; the checkpoint's write reports


    def trim(self, epochs_done: int) -> None:
        """Keep only the epochs a resume starts after (the rest is trained again)."""
        self._steps = []
        if self.path.exists():
            kept = [e for e in read_steps(self.path.parent) if e["epoch"] <= epochs_done]
            atomic.write_text(self.path, "".join(json.dumps(e) + "\n" for e in kept))


def read_steps(run_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The finished epochs' steps, oldest first: dicts with `epoch`, `steps_per_epoch` and the
    lists `batch`, `loss` and `lr`. A run without the file (an older run, a classic head)
    gives []; a line cut short by a crash is left out."""
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
