"""One process of a distributed test run: `transfer-gui ...` with the tiny test backbone.

    python -m torch.distributed.run --standalone --nproc-per-node N ddpchild.py TINY_DIR ARG...

With `DDP_DUMP=FOLDER` each process saves its model's weights after every step as
FOLDER/rank<R>.pt (with those of the modules trained beside it, a DANN domain classifier's,
as `companion<I>.NAME`), how many images it trained on (and took from a second folder) as
FOLDER/rank<R>.json, and, in a domain-adaptation run, its adapted model as
FOLDER/rank<R>.end.pt (to compare the processes);
with `DDP_DIE=R:STEP` the process of rank R dies at its STEP-th training step (to
see the job fail and the run folder resume).

    python -m torch.distributed.run ... ddpchild.py TINY_DIR --jobs JOBS.json

runs several commands one after the other in the same processes (one launch: starting
torchrun and its processes costs more than a tiny run): JOBS.json is a list of
{"name", "args", "env"}; each job's `env` (DDP_DUMP, TRANSFER_GUI_CACHE_DIR, ...) holds while
it runs, rank 0 prints `=== job NAME` before it and `=== exit NAME CODE` after it.
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


def dump_weights(folder: Path | None = None) -> None:
    """`folder`: where to dump; None: each job's DDP_DUMP (nothing where a job has none)."""
    from transfer_gui.core.train.transfer.adaptation import Adaptation
    from transfer_gui.core.train.transfer.paired_steps import PairedStepper

    real_train, real_step = steps.Stepper.train, steps.Stepper._step
    real_end, real_paired = Adaptation.on_fit_end, PairedStepper.train
    rank, images = os.environ.get("RANK", "0"), [0, 0]
    seen = [""]

    def where() -> Path | None:
        dump = folder or (Path(os.environ["DDP_DUMP"]) if os.environ.get("DDP_DUMP") else None)
        if str(dump) != seen[0]:  # a new job: count from 0
            seen[0], images[:] = str(dump), [0, 0]
        return dump

    def count(y, other) -> None:
        if (dump := where()) is None:
            return
        images[0] += len(y)
        images[1] += len(other[1]) if other is not None else 0
        (dump / f"rank{rank}.json").write_text(json.dumps({"images": images[0],
                                                              "partner": images[1]}))

    def train(self, x, y, *rest):
        count(y, None)
        return real_train(self, x, y, *rest)

    def paired(self, x, y, other=None):
        count(y, other)
        return real_paired(self, x, y, other)

    def step(self):  # every stepper's optimizer step (a second folder's too)
        real_step(self)
        if (dump := where()) is None:
            return
        state = _state(getattr(self, "raw", self.model))
        for i, companion in enumerate(getattr(self, "companions", ())):
            state.update({f"companion{i}.{k}": v for k, v in _state(companion).items()})
        torch.save(state, dump / f"rank{rank}.pt")

    def end(self, fit):  # the model once adapted
        real_end(self, fit)
        if (dump := where()) is None:
            return
        torch.save(_state(fit.model), dump / f"rank{rank}.end.pt")

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


def run_jobs(path: Path) -> int:
    """Each job of the list in `path` in turn; the worst exit code. The process group
    outlives the jobs (each run would leave it; joining a new one in the same processes
    hangs), and is left at the end."""
    import torch.distributed as dist

    leave, dist.destroy_process_group = dist.destroy_process_group, lambda *a, **k: None
    dump_weights()
    worst, speaks = 0, os.environ.get("RANK", "0") == "0"
    for job in json.loads(path.read_text()):
        saved = dict(os.environ)
        os.environ.update(job.get("env", {}))
        if speaks:
            print(f"=== job {job['name']}", flush=True)
        try:
            code = main(job["args"])
        except SystemExit as exc:  # a refused command line
            code = exc.code if isinstance(exc.code, int) else 1
        os.environ.clear()
        os.environ.update(saved)
        if speaks:
            print(f"=== exit {job['name']} {code}", flush=True)
        worst = max(worst, code)
    if dist.is_initialized():
        leave()
    return worst


if __name__ == "__main__":
    torch.set_num_threads(1)
    os.environ["TRANSFER_GUI_THREADS"] = "1"  # each run's thread plan keeps it
    install(Path(sys.argv[1]))
    install_plain(Path(sys.argv[1]))
    if sys.argv[2] == "--jobs":
        sys.exit(run_jobs(Path(sys.argv[3])))
    if os.environ.get("DDP_DUMP"):
        dump_weights(Path(os.environ["DDP_DUMP"]))
    if os.environ.get("DDP_DIE"):
        rank, step = os.environ["DDP_DIE"].split(":")
        die_at(rank, int(step))
    sys.exit(main(sys.argv[2:]))
