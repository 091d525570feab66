"""The Train page's words: log lines and status texts made from the engine's events."""

from __future__ import annotations

from ...core import (
    BatchEnded,
    EpochEnded,
    FitEnded,
    FitStarted,
    count,
    human_duration,
    saved_weights,
)

ENDINGS = {"completed": "Finished", "cancelled": "Stopped",
           "early-stopped": "Stopped early (no more improvement)", "failed": "Failed"}


def started_line(event: FitStarted) -> str:
    cache = " · head trained on cached features" if event.feature_cache else ""
    return (f"training on {event.device}: {event.train_size} training and "
            f"{count(event.val_size, 'validation image')}; {event.trainable_params:,} of "
            f"{event.total_params:,} parameters trainable{cache}")


def step_status(last: BatchEnded, epochs: int, per: int, remaining: float) -> str:
    return (f"Epoch {last.epoch}/{epochs} · step {last.batch}/{per} · "
            f"{last.images_per_s:.0f} images/s · about {human_duration(remaining)} left · "
            f"loss {last.loss:.3f}")


def epoch_line(event: EpochEnded) -> str:
    val = (f"val loss {event.val_loss:.4f} · val acc {event.val_acc:.1%}"
           if event.val_loss is not None else "no validation set")
    if event.target_acc is not None:
        val += f" · target acc {event.target_acc:.1%}"
    best = "  ★ best so far" if event.is_best else ""
    return (f"epoch {event.epoch}/{event.epochs}: train loss {event.train_loss:.4f} · "
            f"train acc {event.train_acc:.1%} · {val} · {event.images_per_s:.0f} img/s · "
            f"{event.seconds:.1f} s{best}")


def ended_status(event: FitEnded, resumed_after: int) -> str:
    """How the run ended; the epochs and time count the whole run, a resumed one too."""
    best = (f"; best validation accuracy {event.best_val_acc:.1%} (epoch "
            f"{event.best_epoch})" if event.best_val_acc is not None else "")
    resumed = f" (resumed after epoch {resumed_after})" if resumed_after else ""
    note = (f". {event.message[0].upper()}{event.message[1:]}." if event.message and
            event.status in ("completed", "early-stopped") else "")  # e.g. kept the probe
    return (f"{ENDINGS.get(event.status, event.status)} after "
            f"{count(event.epochs_run, 'epoch')} in "
            f"{human_duration(event.seconds)}{resumed}{best}{note}")


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
