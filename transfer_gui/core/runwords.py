"""A training run's events in words: the one voice of the command line and the window.

Both print or show these sentences as they are, so a run reads the same in the terminal and
in the Train page's log (the window's status line shows `ended_headline`, the part of
`ended_line` before the model's folder).
"""

from __future__ import annotations

from .events import EpochEnded, FitEnded, FitStarted, Message
from .wording import count, human_duration

ENDINGS = {"completed": "Finished", "cancelled": "Stopped",
           "early-stopped": "Stopped early (no more improvement)", "failed": "Failed",
           "interrupted": "Interrupted (its process ended without closing the run)"}
FINISHED = ("completed", "early-stopped")  # a run that ended by itself, its model saved


def started_line(event: FitStarted) -> str:
    """Where the run trains, on how many images, and how much of the network learns."""
    cache = " · head trained on cached features" if event.feature_cache else ""
    return (f"training on {event.device}: {event.train_size} training and "
            f"{count(event.val_size, 'validation image')}; {event.trainable_params:,} of "
            f"{event.total_params:,} parameters trainable{cache}")


def epoch_line(event: EpochEnded) -> str:
    """One finished epoch: losses, accuracies, speed and whether it is the best so far."""
    val = (f"val loss {event.val_loss:.4f} · val acc {_pct(event.val_acc)}"
           if event.val_loss is not None else "no validation set")
    if event.target_acc is not None:
        val += f" · target acc {event.target_acc:.1%}"
    if event.task_acc:  # several tasks: each one's accuracy
        val += " (" + ", ".join(f"{n} {a:.1%}" for n, a in event.task_acc.items()) + ")"
    best = "  ★ best so far" if event.is_best else ""
    return (f"epoch {event.epoch}/{event.epochs}: train loss {event.train_loss:.4f} · "
            f"train acc {event.train_acc:.1%} · {val} · {event.images_per_s:.0f} img/s · "
            f"{event.seconds:.1f} s{best}")


def ended_headline(event: FitEnded, resumed_after: int = 0) -> str:
    """How the run ended, its length and its best epoch; the epochs and time count the whole
    run, a resumed one too. A run that ended by itself adds its note (kept the probe)."""
    best = (f"; best validation accuracy {event.best_val_acc:.1%} (epoch "
            f"{event.best_epoch})" if event.best_val_acc is not None else "")
    resumed = f" (resumed after epoch {resumed_after})" if resumed_after else ""
    note = f". {_sentence(event.message)}" if event.message and event.status in FINISHED \
        else "."
    return (f"{ENDINGS.get(event.status, event.status)} after "
            f"{count(event.epochs_run, 'epoch')} in "
            f"{human_duration(event.seconds)}{resumed}{best}{note}")


def ended_line(event: FitEnded, resumed_after: int = 0) -> str:
    """The run's last line: `ended_headline`, then where the model is. A stopped or failed
    run's message says what happened and which model was really saved."""
    if event.status in FINISHED:
        where = f"Model saved in {event.run_dir}."
    elif event.message:
        where = _sentence(event.message)
    else:
        where = f"Run folder: {event.run_dir}."
    return f"{ended_headline(event, resumed_after)} {where}"


def message_line(event: Message) -> str:
    """A warning or note the engine sends while it works."""
    return f"{event.level}: {event.text}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _sentence(text: str) -> str:
    text = text.strip()
    end = "" if text.endswith((".", "!", "?")) else "."
    return f"{text[:1].upper()}{text[1:]}{end}"
