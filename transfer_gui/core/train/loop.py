"""Training: `fit(config, out_dir, callbacks, cancel)` (or `Trainer().fit(...)`, the same).

The call is synchronous and thread-agnostic: a GUI runs it in a worker thread, the CLI and the
tests call it directly. Progress goes to callbacks as small events. The cancel token is checked
between batches and inside the model's forward and backward passes, so Stop is prompt even in
the middle of a slow batch. Every finished epoch is checkpointed (so a stopped or killed run
can resume and end exactly as if it had not stopped), the best weights are kept in the run
folder, and a cancelled or failed run keeps them and says where they are.

A run is the one loop of `epochs.run_epochs` with the hooks its configuration asks for (see
`hooks`): a second folder's pairing, the stages, the LP-FT probe or a classic head, the
best-epoch rule, the run record, the TensorBoard log (when asked for), early stopping. Each
hook declares its place, and `hooks.Hooks` puts them in that order. Every run, a classic
head's included, ends here, in `_conclude`.
"""

from __future__ import annotations

import contextlib
import time
import traceback
from collections.abc import Iterable
from pathlib import Path

import torch

from ..config import CLASSIC_STRATEGIES, ConfigError, RunConfig
from ..data.scan import FolderScan
from ..events import Callback, Cancelled, CancelToken, FitEnded, Work
from ..interrupt import cancel_points
from ..io import bundle
from ..io.eventlog import EventLog
from ..io.runlock import RunLock
from .autobatch import settle_batch_size
from .best import BestEpoch
from .classic import ClassicHead
from .dist.parts import Follower
from .dist.run import loop_task, processes_note, refuse, together
from .epochs import open_fit, run_epochs
from .hooks import EarlyStopping, FitState, Hook, Hooks
from .lpft import Probe
from .prepare import (
    Prepared,
    prepare,
    resume_config,
    saved_split,
    saved_tasks,
    with_enough_steps,
)
from .ranks import SOLO, Ranks
from .recipe import (
    amp_dtype,
    channels_last_for,
    device_label,
    lr_ratio_for,
    make_optimizer,
    maybe_compile,
)
from .runrecord import FitResult, Recording, RunRecord, TrainingFailed, failure_text
from .stages import Stages
from .tboard import TensorBoard, require_tensorboard
from .transfer.adaptation import Adaptation
from .transfer.paired import Pairing
from .transfer.secondfolder import attach_second, save_second

__all__ = ["FitResult", "Prepared", "Trainer", "TrainingFailed", "fit", "prepare",
           "resume_config"]


def fit(
    config: RunConfig | None,
    out_dir: str | Path,
    callbacks: Work | Iterable[Callback] = (),
    cancel: CancelToken | None = None,
    resume: bool = False,
    scan: FolderScan | None = None,
    tensorboard: str | Path | None = None,
    ranks: Ranks = SOLO,
) -> FitResult:
    """Train into `out_dir`. With `resume`, continue the run folder from its last finished
    epoch with its saved configuration and split (`config` is not used); a run killed
    before its first epoch ended starts again from epoch 1. A failure raises
    `TrainingFailed` after recording it; every other ending emits `FitEnded`. `scan`
    reuses a scan of the data folder made earlier (the GUI's Data page). `callbacks` may be a
    `Work` (then `cancel` is not used). One writer per run folder: a second is refused at once.
    `tensorboard`: a folder for the run's TensorBoard log (`tboard`); without the tensorboard
    package that is refused before anything is done. `ranks`: this process among the
    processes `torchrun` started (`ranks.Ranks.from_env`); rank 0 takes the lock,
    writes the run folder and speaks, every process trains its part of each batch.
    """
    if tensorboard is not None:
        require_tensorboard()
    task, out = Work.of(callbacks, cancel), Path(out_dir)
    if resume and not out.is_dir():
        return _fit(None, out, task, True, None)  # refused there, no folder created
    lock = RunLock(out).held(task) if ranks.main else contextlib.nullcontext()
    try:
        with lock:
            return _fit(config, out, task, resume, scan, tensorboard, ranks)
    finally:
        ranks.close()


class Trainer:
    """Runs one training configuration to completion, cancellation or failure (`fit`)."""

    def fit(self, config: RunConfig | None, out_dir: str | Path,
            callbacks: Work | Iterable[Callback] = (), cancel: CancelToken | None = None,
            resume: bool = False, scan: FolderScan | None = None,
            tensorboard: str | Path | None = None, ranks: Ranks = SOLO) -> FitResult:
        return fit(config, out_dir, callbacks, cancel, resume, scan, tensorboard, ranks)


def _fit(config: RunConfig | None, out: Path, task: Work, resume: bool,
         scan: FolderScan | None, tensorboard: str | Path | None = None,
         ranks: Ranks = SOLO) -> FitResult:
    started = time.perf_counter()
    checkpoint = None
    if resume:
        config = resume_config(out)
        checkpoint = bundle.load_checkpoint(out) if bundle.has_checkpoint(out) else None
    elif ranks.main and (out / bundle.META).exists():
        raise bundle.RunError(f"{out} already holds a run: resume it or choose a new folder")
    elif config is None:
        raise ConfigError("a new run needs a configuration")
    refuse(config, ranks)
    task, local = loop_task(task, ranks)
    auto_epochs = not resume and config.train.epochs is None
    config = config.resolved()
    events = EventLog(out, ranks.main)  # the run's events from here on (rank 0 writes them)
    task = task.adding(events)
    try:
        prep = prepare(config, task, split=saved_split(out) if resume else None,
                       scan=None if resume else scan, tasks=saved_tasks(out) if resume else None)
        prep = attach_second(prep, task, out if resume else None)
    except Cancelled:  # while scanning the folder or fetching weights
        return _stopped_early(out, task, time.perf_counter() - started)
    device = ranks.device(config.train.device)
    ranks = ranks.start(device)
    if resume:
        processes_note(bundle.read_meta(out), ranks, task, config.train.batch_size)
    classic = config.model.strategy in CLASSIC_STRATEGIES
    if not resume and not classic and not ranks.many:  # a resumed run keeps its batch size
        prep = settle_batch_size(prep, device, amp_dtype(device, config.train.mixed_precision),
                                 channels_last_for(device), task)
        if auto_epochs:
            prep = with_enough_steps(prep, task)
    state = open_fit(prep, device, task)
    state.ranks = ranks
    record = (RunRecord if ranks.main else Follower)(out, state.model,
                                                     device_label(device, ranks.world),
                                                     events)
    state.task = task.adding(record.steps)  # the run folder keeps every step
    parts = [*together(state, ranks, local),
             *(_classic_part(state) if classic else _gradient_parts(state))]
    if prep.second is not None and not prep.second.is_source:
        parts.append(Adaptation(state, record))
    if tensorboard is not None and ranks.main:
        parts.append(TensorBoard(tensorboard))
    if config.train.early_stopping:
        parts.append(EarlyStopping(config.train.early_stopping))
    recording = Recording(record)
    hooks = Hooks([*parts, BestEpoch(), recording])
    recording.parts = hooks  # the checkpoint carries every hook's state
    if resume:
        recording.restore(state, checkpoint)
    else:
        recording.start(state)
        save_second(out, prep)
    record.clock(started)
    return _conclude(state, hooks)


def _classic_part(state: FitState) -> list[Hook]:
    state.epochs = 1
    return [ClassicHead()]


def _gradient_parts(state: FitState) -> list[Hook]:
    """The optimizer, and the hooks of a run that trains by gradient, in their order."""
    prep, cfg = state.prep, state.prep.config.train
    ratio = lr_ratio_for(prep.config.model.strategy)
    state.optimizer = make_optimizer(state.model, prep.groups, cfg, ratio)
    state.scaler = torch.amp.GradScaler(enabled=state.dtype == torch.float16)
    stages = Stages(state.model, cfg.head_epochs or 0, state.epochs, bool(cfg.probe_first))
    pairing = ([Pairing(prep, state.model, state.optimizer, state.device)]
               if prep.config.transfer.pairs_batches else [])
    if not state.use_features and maybe_compile(state.model, cfg.compile):
        state.task.message("info", "torch.compile: the first steps compile")
    # adaptation: a probe perfect on the source's validation images still has the target to meet
    return [*pairing, stages, Probe(stages.probe, ends_run=prep.config.transfer.gradient is None)]


def _conclude(state: FitState, hooks: Hooks) -> FitResult:
    """Run the loop and end the run, however it ends: the one place a run ends."""
    try:
        with cancel_points(state.model, state.task):
            state.stop = run_epochs(state, hooks)
    except Cancelled:
        state.stop, state.message = "cancelled", "stopped by the user"
    except KeyboardInterrupt:
        state.stop, state.message = "cancelled", "aborted"
        hooks.on_fit_end(state)
        raise
    except Exception as exc:
        state.stop, state.message = "failed", failure_text(exc)
        state.details = traceback.format_exc()
        hooks.on_fit_failed(state)
        result = _result(state)
        raise TrainingFailed(f"training failed: {result.message}", result.saved) from exc
    hooks.on_fit_end(state)
    return _result(state)


def _result(state: FitState) -> FitResult:
    """The run's result, which the record (`runrecord.Recording`) gives when it closes."""
    assert isinstance(state.result, FitResult)
    return state.result


def _stopped_early(out: Path, task: Work, seconds: float) -> FitResult:
    message = "stopped by the user before training started"
    task.emit(FitEnded("cancelled", 0, None, None, None, seconds, str(out), message))
    return FitResult("cancelled", str(out), [], None, None, None, seconds, message)
