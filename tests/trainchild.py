"""Child process for the kill-and-resume test: `transfer-gui train ...` with the test backbone.

    python trainchild.py TINY_DIR ARG...

Each training step is announced on stderr as "epoch E step" (E counts from 1) and slowed a
little, so the parent can kill the process at a known point in the middle of an epoch.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import torch

from tinynet import install
from transfer_gui.cli import main
from transfer_gui.core import training


def announce_steps() -> None:
    real = training._Run._step

    def step(self, x, y):
        print(f"epoch {self.record.state.epoch + 1} step", file=sys.stderr, flush=True)
        time.sleep(0.05)
        return real(self, x, y)

    training._Run._step = step


if __name__ == "__main__":
    torch.set_num_threads(min(2, os.cpu_count() or 1))  # as in the test process
    install(Path(sys.argv[1]))
    announce_steps()
    sys.exit(main(sys.argv[2:]))
