"""Child process for the kill test: rewrites the app's kinds of files until it is killed.

    python rewriter.py FOLDER FIRST_VERSION

Version after version, it writes model weights, a run's `run.json`, a project file and a CSV
export into FOLDER, each through the app's own save functions, and prints "NAME VERSION" after
each write has returned, and "writing FILE" as each write begins (its temporary file exists).
The disk is made slow (bytes trickle out in chunks, a flush to disk takes 20 ms, as on a
network share) so that a kill shortly after "writing FILE" lands in the middle of that write.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import time
from pathlib import Path

import torch
from torch import nn

from transfer_gui.core import atomic
from transfer_gui.core.analysis.predict import Prediction, write_csv
from transfer_gui.core.io import bundle
from transfer_gui.core.io.project import Project, save_project

ROWS = 5_000


class Blob(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1500, 1500))  # 9 MB


def slow_disk() -> None:
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        time.sleep(0.02)
        real_fsync(fd)

    def write_bytes(self: Path, data: bytes) -> int:
        step = len(data) // 8 + 1
        with open(self, "wb") as handle:
            for start in range(0, len(data), step):
                handle.write(data[start : start + step])
                handle.flush()
                time.sleep(0.01)
        return len(data)

    os.fsync = fsync
    Path.write_bytes = write_bytes  # type: ignore[method-assign]


def announce_writes() -> None:
    real = atomic.atomic_path

    @contextlib.contextmanager
    def announced(target):
        with real(target) as tmp:
            print("writing", Path(target).name, flush=True)
            yield tmp

    atomic.atomic_path = announced  # type: ignore[assignment]


def write_all(folder: Path, version: int, blob: Blob) -> None:
    with torch.no_grad():
        blob.weight.fill_(version)
    bundle.save_weights(folder, blob)  # type: ignore[arg-type]
    print("weights", version, flush=True)
    history = [{"epoch": i, "val_acc": version} for i in range(ROWS)]
    bundle.save_meta(folder, {"version": version, "history": history})
    print("meta", version, flush=True)
    save_project(Project(extra={"version": version, "notes": ["x" * 80] * ROWS}),
                 folder / "p.tgproj")
    print("project", version, flush=True)
    rows = [Prediction(f"image_{i}.png", [(f"v{version}", 1.0)]) for i in range(ROWS)]
    write_csv(str(folder / "predictions.csv"), rows, 1)
    print("csv", version, flush=True)


def main() -> None:
    folder, first = Path(sys.argv[1]), int(sys.argv[2])
    slow_disk()
    announce_writes()
    blob = Blob()
    for version in itertools.count(first):
        write_all(folder, version, blob)


if __name__ == "__main__":
    main()
