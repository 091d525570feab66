"""Comparing runs, and running several strategies on the same split with the same budget.

"Does pretraining help on my data, and how much should I unfreeze?" is answered by training
each strategy on identical file lists and putting their scores side by side.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .. import atomic
from ..config import STRATEGIES, RunConfig
from ..events import Callback, CancelToken, Task
from ..io.runmeta import WEIGHTS, RunError, read_json, read_meta

EVALUATION = "evaluation.json"
COLUMNS = ("run", "strategy", "backbone", "status", "best_val_acc", "macro_f1", "min_f1",
           "seconds", "trainable_params")


def evaluation_summary(run_dir: str | os.PathLike[str], refresh: bool = False,
                       task: Task | None = None) -> dict[str, Any]:
    """Accuracy and F1 of a run on its validation split, cached in `evaluation.json` (made
    again when the run's weights are newer, as after resuming it)."""
    path = Path(run_dir) / EVALUATION
    if not refresh and _newer(path, Path(run_dir) / WEIGHTS):
        try:
            return read_json(path)
        except RunError:
            pass
    from .evaluation import evaluate_run

    result = evaluate_run(run_dir, callbacks=task or ()).result
    f1 = [c["f1"] for c in result.per_class() if c["support"] > 0]
    summary = {"accuracy": result.accuracy, "macro_f1": result.macro_f1,
               "min_f1": min(f1) if f1 else 0.0, "per_class": result.per_class(),
               "count": int(result.confusion.sum())}
    atomic.write_json(path, summary)
    return summary


def _newer(path: Path, than: Path) -> bool:
    try:
        return path.stat().st_mtime_ns >= than.stat().st_mtime_ns
    except OSError:  # no cached file yet (a run without weights fails in the evaluation)
        return False


def run_summary(run_dir: str | os.PathLike[str], evaluate: bool = True,
                callbacks: Task | Iterable[Callback] = (),
                cancel: CancelToken | None = None) -> dict[str, Any]:
    """One row of the comparison table, plus the run's validation curves. `callbacks` (or a
    `Task`) and `cancel` reach the evaluation (the first summary of a run evaluates it)."""
    meta = read_meta(run_dir)
    config = meta.get("config", {})
    best = meta.get("best") or {}
    row: dict[str, Any] = {
        "run": str(run_dir),
        "name": Path(run_dir).name,
        "strategy": config.get("model", {}).get("strategy", "?"),
        "backbone": meta.get("backbone", "?"),
        "status": meta.get("status", "?"),
        "epochs": meta.get("epochs_done", len(meta.get("history", []))),
        "best_val_acc": best.get("val_acc"),
        "seconds": meta.get("seconds"),
        "trainable_params": (meta.get("params") or {}).get("trainable"),
        "total_params": (meta.get("params") or {}).get("total"),
        "history": meta.get("history", []),
    }
    if evaluate:
        try:
            scores = evaluation_summary(run_dir, task=Task.of(callbacks, cancel))
        except Exception as exc:  # noqa: BLE001 - one broken run must not hide the others
            row["error"] = str(exc)
        else:
            row.update(accuracy=scores["accuracy"], macro_f1=scores["macro_f1"],
                       min_f1=scores["min_f1"])
    return row


def compare_strategies(
    config: RunConfig,
    strategies: Sequence[str],
    out_root: str | os.PathLike[str],
    callbacks: Task | Iterable[Callback] = (),
    cancel: CancelToken | None = None,
    scan: Any = None,
    tensorboard: str | os.PathLike[str] | None = None,
) -> list[dict[str, Any]]:
    """Train each strategy on one scan of the data (so every run gets the same split), with the
    same epochs and batch size, and summarise them. `callbacks` may be a `Task`. With
    `tensorboard`, each run also logs for TensorBoard into a sub-folder of it named like its
    run folder."""
    from ..data.scan import require_trainable, scan_folder
    from ..train.loop import fit

    task = Task.of(callbacks, cancel)
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown:
        raise ValueError(f"unknown strategies: {', '.join(unknown)}")
    if scan is None:
        scan = scan_folder(config.data.root, verify=True, val_dir=config.data.val_dir,
                           callbacks=task)
    require_trainable(scan)
    epochs = config.train.epochs or 10
    rows = []
    for strategy in strategies:
        model = dataclasses.replace(config.model, strategy=strategy, trainable=None)
        train = dataclasses.replace(config.train, epochs=epochs)
        run = RunConfig(config.data, model, train)
        out = Path(out_root) / strategy
        task.message("info", f"— {strategy}: training into {out}")
        logs = Path(tensorboard) / strategy if tensorboard is not None else None
        result = fit(run, out, task, scan=scan, tensorboard=logs)
        rows.append(run_summary(out))
        if result.status == "cancelled":
            break
    return rows
