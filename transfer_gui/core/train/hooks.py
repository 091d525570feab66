"""What the training loop shares with its hooks, and the hook interface.

The loop (`epochs.run_epochs`) knows only epochs, batches, steps and validation. Everything
else a run does is a hook: keeping the run folder and the events (`runrecord.Recording`),
early stopping, two-stage unfreezing (`stages.Stages`), the LP-FT probe (`lpft.Probe`), a
second folder (`transfer.paired.Pairing`), the LR range test (`lrfind.sweep.RangeTest`), the
TensorBoard log (`tboard.TensorBoard`), the best-epoch rule (`best.BestEpoch`). Hooks hold no
reference to the run: each call receives the `FitState`, which carries the run's parts and
counters, and a hook acts by changing it (filling `row` to replace an epoch's training, setting
`stop` to end the run, adding `notes` to the run's record).

The order in which hooks run is declared, not implied by a list: each hook has a `name`, says
which parts of the run it `reads` and `writes` (the `PARTS`), and which hooks it runs `after` or
`before` (by name; a hook absent from the run is no constraint). `Hooks` sorts them (a
topological sort, ties kept in the order given) and refuses, with `HookOrderError`, a declared
cycle or two hooks whose order matters (one writes a part the other reads or writes) but is not
declared, directly or through others. The order holds at every point of the loop.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import torch

from ..events import Work
from ..wording import count
from .ranks import SOLO, Ranks

if TYPE_CHECKING:
    from ..data.batches import Batch, BatchSource
    from ..events import FitStarted
    from ..models.backbones import TransferNet
    from ..models.kinds import HeadKind
    from .prepare import Prepared
    from .threads import ThreadPlan


class Stepping(Protocol):
    """What the loop asks of its stepper (`steps.Stepper`, or a subclass that pairs folders
    or runs over several processes), a layer above the hooks."""

    kind: HeadKind

    def step(self, batch: Batch) -> torch.Tensor: ...
    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor: ...
    def combine(self, totals: torch.Tensor) -> torch.Tensor: ...


class Ending(Protocol):
    """How the run ended, once the record is closed (`runrecord.FitResult`)."""

    message: str
    saved: Any




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

    task: Work
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
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
    source: BatchSource | None = None  # where the batches come from
    stepper: Stepping | None = None  # a `steps.Stepper`
    # what builds it (a second folder's pairing replaces it)
    make_stepper: Callable[..., Stepping] | None = None
    epoch: int = 0  # the epoch running (1-based)
    epoch_started: float = 0.0
    batch: Batch | None = None  # the batch just trained
    stats: torch.Tensor | None = None  # its [summed loss, correct], on the device
    row: dict[str, Any] | None = None  # the epoch's history row
    is_best: bool = False  # whether the epoch just ended is the run's best so far (`best`)
    validate: bool = True
    stop: str = ""  # how the run ends ("completed", "early-stopped", "cancelled", "failed")
    message: str = ""
    details: str = ""  # a failure's traceback
    problems: dict[str, str] = field(default_factory=dict)  # files that failed to load
    notes: dict[str, Any] = field(default_factory=dict)  # for the run's record
    started: FitStarted | None = None  # the start event, when not the usual one (classic)
    result: Ending | None = None  # the `FitResult`, once the record is closed
    ranks: Ranks = SOLO  # the run's processes (`ranks`): SOLO for one
    threads: ThreadPlan | None = None  # the run's CPU threads and loader workers

    @property
    def batch_source(self) -> BatchSource:
        """`source`, once the run has one (the loop builds it before the first hook runs)."""
        assert self.source is not None, "the run has no batch source yet"
        return self.source

    @property
    def schedule(self) -> torch.optim.lr_scheduler.LRScheduler:
        """`scheduler`, once built (by the stages, or the LR range test)."""
        assert self.scheduler is not None, "the run has no schedule yet"
        return self.scheduler

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


# The parts of a run that hooks read and write, as they declare them (`Hook.reads`, `writes`).
PARTS = frozenset({
    "source",  # the batch source and what builds the stepper (`make_stepper`)
    "optimizer",  # the optimizer's groups and state
    "scheduler",  # the learning-rate schedule
    "trainable",  # which parameters train (`requires_grad`)
    "model",  # the model's weights
    "row",  # the epoch's history row
    "best",  # the best epoch so far and the epochs since (`run.best_*`, `bad_epochs`, `is_best`)
    "stop", "message", "notes", "started", "result",  # the `FitState` fields of those names
})


HOOK_STATES = "hooks"  # the checkpoint's key of the hooks' states (`Hooks.state_dict`)


class HookOrderError(RuntimeError):
    """Hooks whose order is cyclic, or undefined where it matters."""


class Hook:
    """A part of a run that acts at named points of the loop. Override what is needed, and
    declare the hook's place: its `name`, the `PARTS` it `reads` and `writes`, and the hooks
    (by name) it runs `after` and `before`."""

    name: ClassVar[str] = ""
    reads: ClassVar[frozenset[str]] = frozenset()
    writes: ClassVar[frozenset[str]] = frozenset()
    after: ClassVar[tuple[str, ...]] = ()
    before: ClassVar[tuple[str, ...]] = ()

    def on_fit_start(self, fit: FitState) -> None: ...
    def on_epoch_start(self, fit: FitState) -> None: ...
    def on_batch_start(self, fit: FitState) -> None: ...
    def on_batch_end(self, fit: FitState) -> None: ...
    def on_epoch_end(self, fit: FitState) -> None: ...
    def on_fit_end(self, fit: FitState) -> None: ...
    def on_fit_failed(self, fit: FitState) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        """The hook's part of the checkpoint (`Hooks` keeps it under the hook's own key)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` gave (an empty dict when the checkpoint has nothing of
        this hook's)."""


def _label(hook: Hook) -> str:
    return hook.name or type(hook).__name__


def _edges(hooks: list[Hook]) -> dict[int, set[int]]:
    """i -> {j: hook i runs before hook j}, from every hook's `after` and `before`."""
    at: dict[str, list[int]] = {}
    for i, hook in enumerate(hooks):
        at.setdefault(_label(hook), []).append(i)
    edges: dict[int, set[int]] = {i: set() for i in range(len(hooks))}
    for i, hook in enumerate(hooks):
        for name in hook.after:
            for j in at.get(name, ()):
                edges[j].add(i)
        for name in hook.before:
            edges[i].update(at.get(name, ()))
    return edges


def _sorted(hooks: list[Hook], edges: dict[int, set[int]]) -> list[int]:
    """A topological order of `hooks`, ties in the order given; HookOrderError on a cycle."""
    waiting = {i: 0 for i in edges}
    for targets in edges.values():
        for j in targets:
            waiting[j] += 1
    order: list[int] = []
    ready = [i for i in edges if not waiting[i]]
    while ready:
        i = min(ready)
        ready.remove(i)
        order.append(i)
        for j in edges[i]:
            waiting[j] -= 1
            if not waiting[j]:
                ready.append(j)
    if len(order) < len(hooks):
        stuck = ", ".join(_label(hooks[i]) for i in edges if waiting[i])
        raise HookOrderError(f"the declared order of the hooks is a cycle: {stuck}")
    return order


def _conflict(a: Hook, b: Hook) -> frozenset[str]:
    """The parts that make the order of `a` and `b` matter (one writes what the other uses)."""
    return (a.writes & (b.reads | b.writes)) | (b.writes & a.reads)


def order_hooks(hooks: Iterable[Hook]) -> list[Hook]:
    """`hooks` in their declared order. HookOrderError when the order is cyclic, or undefined
    between two hooks where it matters, or a hook names a part that is not one of `PARTS`."""
    given = list(hooks)
    for hook in given:
        unknown = (hook.reads | hook.writes) - PARTS
        if unknown:
            raise HookOrderError(f"{_label(hook)} names unknown parts: {sorted(unknown)}")
    edges = _edges(given)
    order = _sorted(given, edges)
    place = {i: n for n, i in enumerate(order)}
    reach = {i: set(edges[i]) for i in edges}
    for i in reversed(order):  # every hook i runs before, directly or through others
        for j in edges[i]:
            reach[i] |= reach[j]
    for i, j in itertools.combinations(order, 2):
        parts = _conflict(given[i], given[j])
        first, then = (i, j) if place[i] < place[j] else (j, i)
        if parts and then not in reach[first]:
            raise HookOrderError(f"the order of {_label(given[first])} and "
                                 f"{_label(given[then])} is not declared, and both use "
                                 f"{', '.join(sorted(parts))}")
    return [given[i] for i in order]


def _each(name: str) -> Any:
    """A `Hooks` method that calls `name` on every hook, in order."""

    def call(self: Hooks, fit: FitState) -> None:
        for hook in self.hooks:
            getattr(hook, name)(fit)

    call.__name__ = name
    return call


class Hooks(Hook):
    """Several hooks, called in their declared order (`order_hooks`)."""

    def __init__(self, hooks: Iterable[Hook]) -> None:
        self.hooks = order_hooks(hooks)

    on_fit_start = _each("on_fit_start")
    on_epoch_start = _each("on_epoch_start")
    on_batch_start = _each("on_batch_start")
    on_batch_end = _each("on_batch_end")
    on_epoch_end = _each("on_epoch_end")
    on_fit_end = _each("on_fit_end")
    on_fit_failed = _each("on_fit_failed")

    def state_dict(self) -> dict[str, Any]:
        """Each hook's state under the hook's own key (`keyed`), as Lightning keeps each
        callback's: two hooks that name a part of their state alike do not overwrite each
        other. Hooks with nothing to keep are left out."""
        states = {key: hook.state_dict() for key, hook in self.keyed()}
        return {HOOK_STATES: {key: state for key, state in states.items() if state}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        keyed = state.get(HOOK_STATES)
        for key, hook in self.keyed():
            # a checkpoint of the earlier format holds every hook's state in one flat dict
            hook.load_state_dict(state if keyed is None else keyed.get(key, {}))

    def keyed(self) -> Iterator[tuple[str, Hook]]:
        """(key, hook) in order: the hook's name, then `name#2`, `name#3` for a second and
        third hook of the same name."""
        seen: dict[str, int] = {}
        for hook in self.hooks:
            label = _label(hook)
            seen[label] = seen.get(label, 0) + 1
            yield (label if seen[label] == 1 else f"{label}#{seen[label]}"), hook


class EarlyStopping(Hook):
    """Ends the run after `patience` epochs without a better model (before the next epoch):
    after the best-epoch rule has counted the epoch, and after the record has kept it."""

    name = "early-stopping"
    reads = frozenset({"best"})
    writes = frozenset({"stop"})
    after = ("best", "record")

    def __init__(self, patience: int) -> None:
        self.patience = patience

    def on_fit_start(self, fit: FitState) -> None:
        self.on_epoch_end(fit)  # a resumed run may already have waited long enough

    def on_epoch_end(self, fit: FitState) -> None:
        if fit.run.bad_epochs >= self.patience and fit.run.epoch < fit.epochs and not fit.stop:
            fit.task.message("info", "early stopping: no improvement for "
                                     f"{count(self.patience, 'epoch')}")
            fit.stop = "early-stopped"
