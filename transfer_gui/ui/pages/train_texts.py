"""The Train page's words: the status texts only the window shows. A run's events are worded
by the engine (`started_line`, `epoch_line`, `ended_headline`, `ended_line`), the same
sentences the command line prints."""

from __future__ import annotations

import os

from ...core import (
    BatchEnded,
    ended_headline,
    ended_line,
    epoch_line,
    human_duration,
    message_line,
    saved_weights,
    started_line,
)

__all__ = ["ended_headline", "ended_line", "epoch_line", "failure_words", "message_line",
           "started_line", "step_status"]


def loss_name(tasks: list | None) -> str:
    """The loss axis's label for a project's tasks (none: one single-label task)."""
    tasks = tasks or []
    if len(tasks) > 1:
        return "sum of the tasks' weighted losses"
    multi = bool(tasks) and getattr(tasks[0], "multi_label", False)
    return "binary cross-entropy" if multi else "cross-entropy"


def step_status(last: BatchEnded, epochs: int, per: int, remaining: float,
                unsure: bool = False) -> str:
    left = (f"roughly {human_duration(remaining)} left (unsure: the speed varies)" if unsure
            else f"about {human_duration(remaining)} left")
    return (f"Epoch {last.epoch}/{epochs} · step {last.batch}/{per} · "
            f"{last.images_per_s:.0f} images/s · {left} · loss {last.loss:.3f}")


def failure_words(error: object, run_dir: str) -> tuple[str, str, bool]:
    """The dialog's title, what to add to the engine's message, and whether a model is kept."""
    if getattr(error, "refusal", False):  # refused before any work: nothing was written
        return "Cannot start training", "", False
    if hasattr(error, "saved"):  # the engine's own failure names the model really saved
        return "Training failed", "", getattr(error, "saved", None) is not None
    saved = saved_weights(run_dir)
    if saved:
        return "Training failed", f"\n\nThe last good model is kept in {saved}.", True
    return "Training failed", "\n\nNo model was saved.", False


def remove_if_empty(folder: str) -> None:
    """A run folder that a failed start left empty is removed (Compare would list it)."""
    try:
        if folder and os.path.isdir(folder) and not os.listdir(folder):
            os.rmdir(folder)
    except OSError:
        pass  # not ours to insist on
