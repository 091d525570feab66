"""One process of a distributed test run: `transfer-gui ...` with the tiny test backbone.

    python -m torch.distributed.run --standalone --nproc-per-node N ddpchild.py TINY_DIR ARG...

With `DDP_DUMP=FOLDER` each process saves its model's weights after every step as
FOLDER/rank<R>.pt and how many images it trained on as FOLDER/rank<R>.json (to compare the
processes); with `DDP_DIE=R:STEP` the process of rank R dies at its STEP-th training step (to
see the job fail and the run folder resume).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch

from tinynet import install, install_plain
from transfer_gui.cli import main
from transfer_gui.core.train import steps


def dump_weights(folder: Path) -> None:
    real_train, real_step = steps.Stepper.train, steps.Stepper._step
    rank, images = os.environ.get("RANK", "0"), [0]

    def train(self, x, y, *rest):
        images[0] += len(y)
        (folder / f"rank{rank}.json").write_text(json.dumps({"images": images[0]}))
        return real_train(self, x, y, *rest)

    def step(self):  # every stepper's optimizer step (a second folder's too)
        real_step(self)
        model = getattr(self, "raw", self.model)
        torch.save({k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
                   folder / f"rank{rank}.pt")

    steps.Stepper.train, steps.Stepper._step = train, step


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
