"""Two-stage fine-tuning as one run.

Probe first (LP-FT, the default): epoch 1 trains the linear probe on the frozen body's
cached features, as the "linear-probe" strategy does (see `lpft`), and the remaining epochs
fine-tune the chosen layers from it.
The older recipe trains the new head alone (the backbone frozen, its BatchNorm in eval mode)
for `head_epochs`, then the chosen layers, each stage with a learning-rate cycle of its own.
Either way the curves continue across the stages.

As a hook of the loop, the stages make the run's learning-rate schedule (a cycle per stage) when
the run starts and set what trains as each epoch starts."""

from __future__ import annotations

from torch import nn

from ..events import Work
from ..models.layers import HEAD
from ..wording import count
from .hooks import FitState, Hook
from .recipe import make_scheduler


class Stages(Hook):
    """The stages as a hook: the schedule is built when the run starts (over the batch source a
    second folder may have paired), before the record restores a checkpoint's schedule."""

    name = "stages"
    reads = frozenset({"source", "optimizer"})
    writes = frozenset({"scheduler", "trainable"})
    after = ("pairing",)
    before = ("record",)

    def __init__(self, model: nn.Module, head_epochs: int, epochs: int,
                 probe_first: bool = False) -> None:
        self.model = model
        self.trainable = {n for n, p in model.named_parameters() if p.requires_grad}
        self.head_only = {n for n in self.trainable if n.split(".", 1)[0] == HEAD}
        body = self.trainable - self.head_only
        self.probe = bool(probe_first and body and self.head_only)
        usable = body and 0 < head_epochs < epochs and not self.probe
        self.head_epochs = head_epochs if usable else 0
        self.epochs = epochs

    def is_probe(self, epoch: int) -> bool:
        """Whether `epoch` is the linear probe (no gradient steps)."""
        return self.probe and epoch == 1

    def phases(self, steps_per_epoch: int) -> list[int] | None:
        """Steps in each stage, for the scheduler (None: a single stage)."""
        if not self.head_epochs:
            return None
        rest = self.epochs - self.head_epochs
        return [self.head_epochs * steps_per_epoch, rest * steps_per_epoch]

    def total_steps(self, steps_per_epoch: int) -> int:
        """Optimizer steps in the run (the probe's epoch takes none)."""
        return max(self.epochs - int(self.probe), 1) * steps_per_epoch

    def on_fit_start(self, fit: FitState) -> None:
        steps = fit.batch_source.steps_per_epoch
        assert fit.optimizer is not None  # the loop makes it before the run starts
        fit.scheduler = make_scheduler(fit.optimizer, fit.prep.config.train.schedule,
                                       self.total_steps(steps), self.phases(steps))

    def on_epoch_start(self, fit: FitState) -> None:
        self.enter(fit.epoch, fit.task)

    def enter(self, epoch: int, task: Work) -> None:
        """Make the parameters of `epoch`'s stage trainable (and only those)."""
        if self.probe and epoch == 2:
            task.message("info", "stage 2: the chosen layers fine-tune from the probe, earlier "
                                 "ones with smaller rates")
        if not self.head_epochs:
            return
        first = epoch <= self.head_epochs
        wanted = self.head_only if first else self.trainable
        for name, param in self.model.named_parameters():
            param.requires_grad_(name in wanted)
        if epoch in (1, self.head_epochs + 1):
            text = (f"stage 1: the head alone for {count(self.head_epochs, 'epoch')}" if first else
                    "stage 2: the chosen layers unfrozen, earlier ones with smaller rates")
            task.message("info", text)
