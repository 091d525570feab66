"""One process of a distributed test run: `transfer-gui ...` with the tiny test backbone.

    python -m torch.distributed.run --standalone --nproc-per-node N ddpchild.py TINY_DIR ARG...

With `DDP_DUMP=FOLDER` each process saves its model's weights after every step as
FOLDER/rank<R>.pt (with those of the modules trained beside it, a DANN domain classifier's,
as `companion<I>.NAME`), how many images it trained on (and took from a second folder) as
FOLDER/rank<R>.json, and, in a domain-adaptation run, its adapted model as
FOLDER/rank<R>.end.pt (to compare the processes);
with `DDP_DIE=R:STEP` the process of rank R dies at its STEP-th training step (to
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


def _state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}


def dump_weights(folder: Path) -> None:
    from transfer_gui.core.train.transfer.adapt import PairedStepper
    from transfer_gui.core.train.transfer.adaptation import Adaptation

    real_train, real_step = steps.Stepper.train, steps.Stepper._step
    real_end, real_paired = Adaptation.on_fit_end, PairedStepper.train
    rank, images = os.environ.get("RANK", "0"), [0, 0]

    def count(y, other) -> None:
        images[0] += len(y)
        images[1] += len(other[1]) if other is not None else 0
        (folder / f"rank{rank}.json").write_text(json.dumps({"images": images[0],
                                                              "partner": images[1]}))

    def train(self, x, y, *rest):
        count(y, None)
        return real_train(self, x, y, *rest)

    def paired(self, x, y, other=None):
        count(y, other)
        return real_paired(self, x, y, other)

    def step(self):  # every stepper's optimizer step (a second folder's too)
        real_step(self)
        state = _state(getattr(self, "raw", self.model))
        for i, companion in enumerate(getattr(self, "companions", ())):
            state.update({f"companion{i}.{k}": v for k, v in _state(companion).items()})
        torch.save(state, folder / f"rank{rank}.pt")

    def end(self, fit):  # the model once adapted
        real_end(self, fit)
        torch.save(_state(fit.model), folder / f"rank{rank}.end.pt")

    steps.Stepper.train, steps.Stepper._step = train, step
    Adaptation.on_fit_end, PairedStepper.train = end, paired


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
    os.environ["TRANSFER_GUI_THREADS"] = "1"  # each run's thread plan keeps it
    install(Path(sys.argv[1]))
    install_plain(Path(sys.argv[1]))
    if os.environ.get("DDP_DUMP"):
        dump_weights(Path(os.environ["DDP_DUMP"]))
    if os.environ.get("DDP_DIE"):
        rank, step = os.environ["DDP_DIE"].split(":")
        die_at(rank, int(step))
    sys.exit(main(sys.argv[2:]))
