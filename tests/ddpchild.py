"""One process of a distributed test run: `transfer-gui ...` with the tiny test backbone.

    python -m torch.distributed.run --standalone --nproc-per-node N ddpchild.py TINY_DIR ARG...

With `DDP_DUMP=FOLDER` each process saves its model's weights after training as
FOLDER/rank<R>.pt (to compare the processes); with `DDP_DIE=R:STEP` the process of rank R dies
at its STEP-th training step (to see the job fail and the run folder resume).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

from tinynet import install, install_plain
from transfer_gui.cli import main
from transfer_gui.core.train import steps


def dump_weights(folder: Path) -> None:
    real = steps.Stepper.train
    rank = os.environ.get("RANK", "0")

    def train(self, x, y):
        out = real(self, x, y)
        model = getattr(self, "raw", self.model)
        torch.save({k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
                   folder / f"rank{rank}.pt")
        return out

    steps.Stepper.train = train


def die_at(rank: str, step: int) -> None:
    real, seen = steps.Stepper.train, [0]

    def train(self, x, y):
        seen[0] += 1
        if os.environ.get("RANK") == rank and seen[0] == step:
            os._exit(3)
        return real(self, x, y)

    steps.Stepper.train = train


if __name__ == "__main__":
    torch.set_num_threads(1)
    install(Path(sys.argv[1]))
    install_plain(Path(sys.argv[1]))
    if os.environ.get("DDP_DUMP"):
        dump_weights(Path(os.environ["DDP_DUMP"]))
    if os.environ.get("DDP_DIE"):
        rank, step = os.environ["DDP_DIE"].split(":")
        die_at(rank, int(step))
    sys.exit(main(sys.argv[2:]))
