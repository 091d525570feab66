"""Setting a run up on several processes: what is refused, and the parts the loop is given."""

from __future__ import annotations

from typing import Any

from ...config import CLASSIC_STRATEGIES, ConfigError, RunConfig
from ...events import CancelToken, Work
from ..hooks import FitState, Hook
from ..ranks import Ranks
from .parts import InStep, stepper_for, sync_batchnorm

PROCESSES = "processes"  # run.json: how many processes trained the run


def refuse(config: RunConfig, ranks: Ranks) -> None:
    """What a run on several processes cannot do, said before anything is done."""
    if not ranks.many:
        return
    if config.model.strategy in CLASSIC_STRATEGIES:
        raise ConfigError(f"a {config.model.strategy} head is fitted in seconds on one "
                          "process: run it without torchrun")
    if config.train.batch_size < ranks.world:
        raise ConfigError(f"a batch of {config.train.batch_size} cannot be shared by "
                          f"{ranks.world} processes: the batch size is the whole step's, "
                          f"so give at least {ranks.world}")


def loop_task(task: Work, ranks: Ranks) -> tuple[Work, CancelToken]:
    """The task the loop of this process runs with, and the token of its own stop requests.
    Rank 0 speaks, the others are quiet; on several processes the loop's token is set only
    when the processes agree to stop (`InStep`), so they all stop at the same batch."""
    if not ranks.many:
        return task, task.token
    agreed = CancelToken()
    quiet = Work(task.receivers if ranks.main else [], agreed)
    quiet.watched = task.watched
    return quiet, task.token


def together(state: FitState, ranks: Ranks, local: CancelToken) -> list[Hook]:
    """Give the run its distributed parts: the stepper over DistributedDataParallel,
    SyncBatchNorm where it applies, and the hook that keeps the processes in step (the first
    of the run's hooks). One process: none."""
    state.notes[PROCESSES] = ranks.world
    if not ranks.many:
        return []
    cfg = state.prep.config.train
    sync_batchnorm(state.model, cfg.sync_batchnorm, bool(cfg.freeze_bn),
                   state.device, state.task)
    state.make_stepper = stepper_for(ranks)
    if cfg.auto_batch_size:
        state.task.message("info", f"automatic batch size is for one process: each step takes "
                                   f"{cfg.batch_size} images, shared by the {ranks.world} "
                                   "processes")
    return [InStep(ranks, local, state.task.token)]


def processes_note(meta: dict[str, Any], ranks: Ranks, task: Work, batch_size: int) -> None:
    """Say what a resume on another number of processes means."""
    before = int(meta.get(PROCESSES) or 1)
    if before == ranks.world:
        return
    each = "on this one process" if ranks.world == 1 else \
        f"about {batch_size / ranks.world:g} on each process"
    task.message("warning", f"this run was trained on {before} process"
                            f"{'es' if before != 1 else ''} and continues on {ranks.world}: "
                            f"a step still takes {batch_size} images ({each}) and the "
                            "learning-rate schedule goes on where it stopped; what each "
                            "process draws at random (augmentation, dropout) differs, so the "
                            f"result is not exactly the one {before} would give")
