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
from transfer_gui.core.train import steps

EPOCH = [0]


def announce_steps() -> None:
    real_meter, real_train = steps.EpochMeter.__init__, steps.Stepper.train

    def meter(self, task, epoch, *args, **kwargs):
        EPOCH[0] = epoch if task.receivers else 0  # the LP-FT probe's epochs (unseen) are not
        real_meter(self, task, epoch, *args, **kwargs)  # the run's

    def train(self, x, y):
        print(f"epoch {EPOCH[0]} step", file=sys.stderr, flush=True)
        time.sleep(float(os.environ.get("TRAINCHILD_STEP_SECONDS", "0.05")))
        return real_train(self, x, y)

    steps.EpochMeter.__init__ = meter
    steps.Stepper.train = train


if __name__ == "__main__":
    torch.set_num_threads(min(2, os.cpu_count() or 1))  # as in the test process
    install(Path(sys.argv[1]))
    announce_steps()
    sys.exit(main(sys.argv[2:]))
