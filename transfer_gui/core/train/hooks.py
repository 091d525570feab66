"""What the training loop shares with its hooks, and the hook interface.

The loop (`engine.run_epochs`) knows only epochs, batches, steps and validation. Everything
else a run does is a hook: keeping the run folder and the events (`runrecord.Recording`),
early stopping, two-stage unfreezing (`stages.Stages`), the LP-FT probe (`lpft.Probe`), a
second folder (`transfer.paired.Pairing`), the LR range test (`lrfind.sweep.RangeTest`), the
TensorBoard log (`tboard.TensorBoard`). Hooks hold no reference to the run: each call receives
the `FitState`, which carries the run's parts and counters, and a hook acts by changing it
(filling `row` to replace an epoch's training, setting `stop` to end the run, adding `notes`
to the run's record).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from ..events import Task
from ..wording import count
from .dist.context import SOLO, Ranks

if TYPE_CHECKING:
    from ..models.backbones import TransferNet
    from .prepare import Prepared


@dataclass
class RunState:
    """Progress that a checkpoint carries."""

    epoch: int = 0  # epochs finished
    step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int | None = None
    best_acc: float | None = None
    best_loss: float | None = None
    bad_epochs: int = 0


@dataclass
class FitState:
    """A run's parts and counters, as the loop and its hooks see them."""

    task: Task
    prep: Prepared
    model: TransferNet
    device: torch.device
    dtype: torch.dtype | None = None
    channels_last: bool = False
    use_features: bool = False
    epochs: int = 1
    run: RunState = field(default_factory=RunState)
    optimizer: torch.optim.Optimizer | None = None
    scaler: torch.amp.GradScaler | None = None
    scheduler: Any = None
    source: Any = None  # a batch source (`data.batches`)
    stepper: Any = None  # a `steps.Stepper`
    make_stepper: Any = None  # what builds it (a second folder's pairing replaces it)
    epoch: int = 0  # the epoch running (1-based)
    epoch_started: float = 0.0
    batch: Any = None  # the batch just trained (`batches.Batch`)
    stats: torch.Tensor | None = None  # its [summed loss, correct], on the device
    row: dict[str, Any] | None = None  # the epoch's history row
    validate: bool = True
    stop: str = ""  # how the run ends ("completed", "early-stopped", "cancelled", "failed")
    message: str = ""
    details: str = ""  # a failure's traceback
    problems: dict[str, str] = field(default_factory=dict)  # files that failed to load
    notes: dict[str, Any] = field(default_factory=dict)  # for the run's record
    started: Any = None  # the `FitStarted` event, when not the usual one (a classic head)
    result: Any = None  # the `FitResult`, once the record is closed
    ranks: Ranks = SOLO  # the run's processes (`dist.context`): SOLO for one

    @property
    def lr(self) -> float:
        assert self.optimizer is not None
        return float(self.optimizer.param_groups[-1]["lr"])

    def skip_failed(self, failed: Iterable[tuple[Any, str]]) -> None:
        """Note and name, once each, files that failed to load (the batches leave them out)."""
        for sample, reason in failed:
            if sample.path not in self.problems:
                self.problems[sample.path] = reason
                self.task.message("warning", f"{sample.path}: {reason}; left out of training")

    def start_epoch(self) -> None:
        self.epoch, self.row = self.run.epoch + 1, None
        self.epoch_started = time.perf_counter()
        # Everything random in an epoch (order, augmentation, dropout, DataLoader worker seeds)
        # follows from this seed, so a resumed run repeats an interrupted epoch exactly.
        torch.manual_seed(self.prep.config.train.seed * 1_000_003 + self.epoch)


class Hook:
    """A part of a run that acts at named points of the loop. Override what is needed."""

    def on_fit_start(self, fit: FitState) -> None: ...
    def on_epoch_start(self, fit: FitState) -> None: ...
    def on_batch_start(self, fit: FitState) -> None: ...
    def on_batch_end(self, fit: FitState) -> None: ...
    def on_epoch_end(self, fit: FitState) -> None: ...
    def on_fit_end(self, fit: FitState) -> None: ...
    def on_fit_failed(self, fit: FitState) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        """The hook's part of the checkpoint."""
        return {}

    def load_state_dict(self, checkpoint: dict[str, Any]) -> None: ...


def _each(name: str) -> Any:
    """A `Hooks` method that calls `name` on every hook, in order."""

    def call(self: Hooks, fit: FitState) -> None:
        for hook in self.hooks:
            getattr(hook, name)(fit)

    call.__name__ = name
    return call


class Hooks(Hook):
    """Several hooks called in order."""

    def __init__(self, hooks: Iterable[Hook]) -> None:
        self.hooks = list(hooks)

    on_fit_start = _each("on_fit_start")
    on_epoch_start = _each("on_epoch_start")
    on_batch_start = _each("on_batch_start")
    on_batch_end = _each("on_batch_end")
    on_epoch_end = _each("on_epoch_end")
    on_fit_end = _each("on_fit_end")
    on_fit_failed = _each("on_fit_failed")

    def state_dict(self) -> dict[str, Any]:
        return {k: v for hook in self.hooks for k, v in hook.state_dict().items()}

    def load_state_dict(self, checkpoint: dict[str, Any]) -> None:
        for hook in self.hooks:
            hook.load_state_dict(checkpoint)


class EarlyStopping(Hook):
    """Ends the run after `patience` epochs without a better model (before the next epoch)."""

    def __init__(self, patience: int) -> None:
        self.patience = patience

    def on_fit_start(self, fit: FitState) -> None:
        self.on_epoch_end(fit)  # a resumed run may already have waited long enough

    def on_epoch_end(self, fit: FitState) -> None:
        if fit.run.bad_epochs >= self.patience and fit.run.epoch < fit.epochs and not fit.stop:
            fit.task.message("info", "early stopping: no improvement for "
                                     f"{count(self.patience, 'epoch')}")
            fit.stop = "early-stopped"
