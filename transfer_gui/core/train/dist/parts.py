"""The parts a distributed run gives the loop: nothing in the loop asks how many processes run.

* `Distributed`: the loop's stepper with the model inside `DistributedDataParallel`, which
  averages the gradients of every process's part of the batch (`Shard`) in the backward pass,
  those of the modules a stepper trains beside the model too (a DANN domain classifier).
  It wraps the model again when the set of trainable parameters changes (two-stage
  fine-tuning), validates on the plain model (each process its own part of the validation
  images, no collective inside), and sums the validation figures over the processes.
* `InStep`: the hook that keeps the processes in step. Every process draws its own random
  augmentation (its seed offset by its rank), a stop asked of any process (Ctrl-C, SIGTERM)
  stops all of them at the same batch, and the epoch's training figures become those of the
  whole batch.
* `Follower`: the run record of a process other than rank 0. It keeps the run's state (best
  epoch, epochs without improvement) by the same rule as the writer, so every process takes
  the same decisions, and it writes nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ...events import Cancelled, CancelToken, Work
from ...io import bundle
from ...io.steplog import StepLog
from ..hooks import FitState, Hook
from ..runrecord import FitResult, RunRecord, SavedModel
from ..steps import Forward, Optim, Stepper
from ..ranks import Ranks

S = TypeVar("S", bound=Stepper)


class _Routed(nn.Module):
    """The model with the batch source's way through it (features go through the head only),
    and the modules trained beside it (`companions`), as one module for
    DistributedDataParallel to wrap. `route`: another way through the model for one call."""

    def __init__(self, model: nn.Module, forward: Forward,
                 companions: tuple[nn.Module, ...] = ()) -> None:
        super().__init__()
        self.model, self.route = model, forward
        self.companions = nn.ModuleList(companions)

    def forward(self, x: torch.Tensor, route: Callable[[nn.Module, torch.Tensor], Any] | None
                = None) -> Any:
        return (route or self.route)(self.model, x)


def _through(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return module(x)


class Distributed:
    """What makes a stepper (`steps.Stepper` or a subclass that runs the model through
    `_logits`, or through `_run` for another way through it) step on gradients averaged over
    every process: mixed in before it (`distributed`), with `ranks` set on the class. The
    stepper's `companions`, modules it trains beside the model, are wrapped with it."""

    ranks: Ranks
    model: nn.Module
    forward: Forward
    device: torch.device

    def _wrap(self) -> None:
        if not hasattr(self, "raw"):
            self.raw, self.raw_forward = self.model, self.forward
            self.ddp: DistributedDataParallel | None = None
            self.wrapped_for: tuple[str, ...] = ()
        trainable = tuple(n for n, p in self.raw.named_parameters() if p.requires_grad)
        if self.ddp is None or trainable != self.wrapped_for:
            ids = [self.device] if self.device.type == "cuda" else None
            routed = _Routed(self.raw, self.raw_forward, getattr(self, "companions", ()))
            self.ddp = DistributedDataParallel(routed, device_ids=ids)
            self.wrapped_for = trainable
        self.model, self.forward = self.ddp, _through

    def train(self, *args: Any) -> torch.Tensor:
        self._wrap()
        return super().train(*args)  # type: ignore[misc]

    def _run(self, route: Callable[[nn.Module, torch.Tensor], Any], x: torch.Tensor) -> Any:
        """`route(model, x)` inside DistributedDataParallel while training."""
        if getattr(self, "ddp", None) is not None and self.model is self.ddp:
            return self.ddp(x, route)
        return super()._run(route, x)  # type: ignore[misc]

    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if hasattr(self, "raw"):
            self.model, self.forward = self.raw, self.raw_forward
        return super().evaluate(x, y)  # type: ignore[misc]

    def accumulating(self, more: bool) -> contextlib.AbstractContextManager[Any]:
        if more and getattr(self, "ddp", None) is not None:
            return self.ddp.no_sync()  # type: ignore[union-attr]
        return contextlib.nullcontext()

    def combine(self, totals: torch.Tensor) -> torch.Tensor:
        return self.ranks.sum(totals)


def distributed(cls: type[S], ranks: Ranks) -> type[S]:
    """`cls` stepping on gradients averaged over `ranks` (one process: `cls` itself)."""
    if not ranks.many:
        return cls
    return type(f"Distributed{cls.__name__}", (Distributed, cls), {"ranks": ranks})


def stepper_for(ranks: Ranks) -> Callable[..., Stepper]:
    """What builds the loop's stepper (`FitState.make_stepper`) for these processes."""
    return distributed(Stepper, ranks)


def sync_batchnorm(model: nn.Module, wanted: bool | None, freeze_bn: bool, device: torch.device,
                   task: Work) -> bool:
    """Turn the model's BatchNorm layers into SyncBatchNorm (statistics over every process's
    images) when asked, or by default when their statistics train. Only GPUs can: on CPUs each
    process keeps its own statistics, and rank 0's are the ones saved."""
    has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    on = (not freeze_bn) if wanted is None else wanted
    if not (has_bn and on):
        return False
    if device.type != "cuda":
        if wanted:
            task.message("warning", "SyncBatchNorm needs GPUs: on CPUs each process keeps its "
                                    "own BatchNorm statistics (rank 0's are saved)")
        return False
    for name, child in list(model.named_children()):
        model.add_module(name, nn.SyncBatchNorm.convert_sync_batchnorm(child))
    task.message("info", "SyncBatchNorm: BatchNorm statistics over every GPU's images")
    return True


class InStep(Hook):
    """Keeps the processes of a run in step (the first of the run's hooks). `local`: this
    process's own stop token (set by Ctrl-C or SIGTERM); `agreed`: the token the loop checks,
    set on every process at once when any of them was asked to stop."""

    name = "in-step"
    reads = frozenset({"row"})
    writes = frozenset({"row"})
    after = ("pairing", "probe", "classic")
    before = ("best", "record", "tensorboard")

    def __init__(self, ranks: Ranks, local: CancelToken, agreed: CancelToken) -> None:
        self.ranks, self.local, self.agreed = ranks, local, agreed

    def on_epoch_start(self, fit: FitState) -> None:
        if self.ranks.rank:  # rank 0 draws as one process would
            seed = fit.prep.config.train.seed * 1_000_003 + fit.epoch
            torch.manual_seed(seed + 7_919 * self.ranks.rank)
        self._agree()

    def on_batch_start(self, fit: FitState) -> None:
        self._agree()

    def _agree(self) -> None:
        if self.ranks.any(self.local.cancelled):
            self.agreed.cancel()
            raise Cancelled()

    def on_epoch_end(self, fit: FitState) -> None:
        """The epoch's figures of every process: training loss and accuracy averaged (each
        process trained on its part of every batch), images per second added up. A probe's
        row, the same on every process, stays as it is."""
        row = fit.row
        if row is None or row.get("stage") == "probe":
            return
        keys = ("train_loss", "train_acc", "images_per_s")
        mine = torch.tensor([float(row[k] or 0.0) for k in keys], dtype=torch.float64)
        loss, acc, ips = self.ranks.sum(mine).tolist()
        world = self.ranks.world
        row.update(train_loss=loss / world, train_acc=acc / world, images_per_s=ips)


    def on_fit_failed(self, fit: FitState) -> None:
        """A process that died breaks the others' next collective: say so, not the
        transport's error (the run folder keeps the traceback)."""
        if _collective_error(fit.message):
            fit.message = (f"another process of this run ({self.ranks.world} processes) "
                           "stopped; its own error is in the launcher's output. Resume with "
                           "the same torchrun command and --resume RUN")


def _collective_error(text: str) -> bool:
    words = ("gloo", "nccl", "connection reset", "connection closed", "distbackenderror",
             "broken pipe")
    return any(w in text.lower() for w in words)


class Follower(RunRecord):
    """The run record of a process other than rank 0: the same state, nothing written."""

    def __init__(self, out: Path, model: nn.Module, device: str, events: Any = None) -> None:
        super().__init__(out, model, device, events)  # type: ignore[arg-type]
        self.steps = _NoSteps(out)

    def write_start(self, prep: Any) -> None:
        self.meta = {"split": {"train": len(prep.train), "val": len(prep.val)}}

    def resume(self) -> None:
        self.meta = bundle.read_meta(self.out)

    def epoch_done(self, row: dict[str, Any], is_best: bool,
                   checkpoint: Callable[[], dict[str, Any]]) -> None:
        self.checkpoint_epoch = row["epoch"]
        if is_best:
            self.saved = self._save_weights(row)  # what rank 0 saves: nothing written here

    def _durably(self, row: dict[str, Any], what: str, size: int,
                 write: Callable[[], None]) -> None:
        return None

    def _save_meta(self, status: str, message: str, details: str = "") -> None:
        return None

    def finish(self, status: str, message: str, details: str = "") -> FitResult:
        saved = self.saved or SavedModel("", None)
        return FitResult(status, str(self.out), list(self.state.history), saved.epoch,
                         saved.val_acc, saved.val_loss, self._seconds(), message, self.saved)


class _NoSteps(StepLog):
    """The step log of a process that writes nothing."""

    def epoch_done(self, epoch: int) -> None: ...
    def trim(self, epochs_done: int) -> None: ...
