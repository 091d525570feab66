"""The best-epoch rule: which epoch of a run is its model.

An epoch replaces the best so far when its validation accuracy is higher, or equal with a lower
loss (`better`); without a validation split the latest epoch is kept. A fine-tuning epoch
replaces LP-FT's probe only with a clear lead (`beats_probe`). As a hook (`BestEpoch`) the rule
judges each finished epoch's row, after the hooks that fill it, and sets the run's best epoch,
the epochs since a better one (what early stopping counts) and `is_best` (what the record
saves as the model); the record only persists its verdict.
"""

from __future__ import annotations

from .hooks import FitState, Hook, RunState


def better(acc: float | None, loss: float | None, best_acc: float | None,
           best_loss: float | None) -> bool:
    """Which epoch a run keeps: higher validation accuracy, then lower loss."""
    if acc is None or best_acc is None:
        return True  # no validation set: the latest epoch is the one to keep
    if acc != best_acc:
        return acc > best_acc
    return loss is not None and best_loss is not None and loss < best_loss


def beats_probe(acc: float, probe_acc: float, val_images: int | None) -> bool:
    """Whether a fine-tuning epoch replaces the probe (LP-FT's epoch 1) as the run's best: it
    must get at least two more of the `val_images` validation images right. The best of many
    fine-tuning epochs is set against the probe's one score, so a lead of a single image is
    noise (on the transfer-quality benchmark one such lead kept a fine-tune 6 points below
    its probe on the test images)."""
    margin = 1.5 / val_images if val_images else 0.0
    return acc > probe_acc + margin


def judge(state: RunState, row: dict[str, object], val_images: int | None) -> bool:
    """Whether `row` (the last of `state.history`) is the run's best so far; updates the best
    epoch and the count of epochs without a better one in `state`."""
    acc, loss = row["val_acc"], row["val_loss"]
    assert acc is None or isinstance(acc, float | int)
    assert loss is None or isinstance(loss, float | int)
    is_best = better(acc, loss, state.best_acc, state.best_loss)
    if is_best and _probe_is_best(state) and acc is not None:
        is_best = beats_probe(acc, state.best_acc or 0.0, val_images)
    if is_best:
        epoch = row["epoch"]
        assert isinstance(epoch, int)
        state.best_epoch, state.best_acc, state.best_loss = epoch, acc, loss
        state.bad_epochs = 0
    else:
        state.bad_epochs += 1
    return is_best


def _probe_is_best(state: RunState) -> bool:
    best = state.best_epoch
    return best is not None and state.history[best - 1].get("stage") == "probe"


class BestEpoch(Hook):
    """The rule as a hook: each finished epoch is judged once its row is complete (the probe,
    a classic head and a second folder's target accuracy fill it), before the record keeps it
    and early stopping counts it."""

    name = "best"
    reads = frozenset({"row"})
    writes = frozenset({"best"})
    after = ("pairing", "probe", "classic")
    before = ("record", "early-stopping")

    def on_epoch_end(self, fit: FitState) -> None:
        assert fit.row is not None
        fit.is_best = judge(fit.run, fit.row, len(fit.prep.val) or None)
