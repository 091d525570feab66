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
from ..config import STRATEGIES, STRATEGY_DEFAULTS, RunConfig
from ..events import Callback, CancelToken, Work
from ..io.runmeta import WEIGHTS, RunError, read_json, read_meta

EVALUATION = "evaluation.json"
COLUMNS = ("run", "strategy", "backbone", "status", "best_val_acc", "macro_f1", "min_f1",
           "seconds", "trainable_params")


def evaluation_summary(run_dir: str | os.PathLike[str], refresh: bool = False,
                       task: Work | None = None) -> dict[str, Any]:
    """Accuracy and F1 of a run on its validation split, cached in `evaluation.json` (made
    again when the run's weights are newer, as after resuming it)."""
    path = Path(run_dir) / EVALUATION
    if not refresh and _newer(path, Path(run_dir) / WEIGHTS):
        try:
            return read_json(path)
        except RunError:
            pass
    from .evaluation import evaluate_run

    evaluation = evaluate_run(run_dir, callbacks=task or ())
    result = evaluation.result
    f1 = [c["f1"] for c in result.per_class() if c["support"] > 0]
    summary = {"accuracy": result.accuracy, "macro_f1": result.macro_f1,
               "min_f1": min(f1) if f1 else 0.0, "per_class": result.per_class(),
               "count": int(result.confusion.sum()),
               "tasks": {name: figures.get("accuracy", figures.get("map"))
                         for name, figures in evaluation.tasks_dict().items()}}
    atomic.write_json(path, summary)
    return summary


def _newer(path: Path, than: Path) -> bool:
    try:
        return path.stat().st_mtime_ns >= than.stat().st_mtime_ns
    except OSError:  # no cached file yet (a run without weights fails in the evaluation)
        return False


def run_summary(run_dir: str | os.PathLike[str], evaluate: bool = True,
                callbacks: Work | Iterable[Callback] = (),
                cancel: CancelToken | None = None) -> dict[str, Any]:
    """One row of the comparison table, plus the run's validation curves. `callbacks` (or a
    `Work`) and `cancel` reach the evaluation (the first summary of a run evaluates it)."""
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
        "image_size": (meta.get("preprocess") or {}).get("image_size"),
        "best_val_acc": best.get("val_acc"),
        "seconds": meta.get("seconds"),
        "trainable_params": (meta.get("params") or {}).get("trainable"),
        "total_params": (meta.get("params") or {}).get("total"),
        "history": meta.get("history", []),
        **probe_facts(meta),
        **adaptation_facts(meta),
    }
    head = (meta.get("params") or {}).get("head")
    if row["kept_probe"] and head is not None:  # the kept model trained its head alone
        row["trainable_params"] = head
    if evaluate:
        try:
            scores = evaluation_summary(run_dir, task=Work.of(callbacks, cancel))
        except Exception as exc:  # noqa: BLE001 - one broken run must not hide the others
            row["error"] = str(exc)
        else:
            row.update(accuracy=scores["accuracy"], macro_f1=scores["macro_f1"],
                       min_f1=scores["min_f1"], tasks=scores.get("tasks") or {})
    return row


KEPT_PROBE_MARK = "kept its probe"


def adaptation_facts(meta: dict[str, Any]) -> dict[str, Any]:
    """A domain-adaptation run's target accuracy as source only (before adaptation) and
    adapted, side by side (None without target labels or adaptation)."""
    note = meta.get("adaptation")
    note = note if isinstance(note, dict) else {}
    return {"target_source_only": note.get("target_acc_before"),
            "target_adapted": note.get("target_acc_after"),
            "adaptation": note.get("method")}


def probe_facts(meta: dict[str, Any]) -> dict[str, Any]:
    """Whether a probe-first run kept its probe (fine-tuning never beat it: its score is the
    probe's), and how many epochs its probe stage trained (None: no probe stage)."""
    history = meta.get("history", [])
    probe = next((h for h in history if h.get("stage") == "probe"), None)
    best = (meta.get("best") or {}).get("epoch")
    kept = bool(meta.get("kept_probe")) or (
        probe is not None and best == probe.get("epoch") and len(history) > 1)
    return {"kept_probe": kept,
            "probe_epochs": None if probe is None else probe.get("probe_epochs")}


def with_mark(text: str, row: dict[str, Any]) -> str:
    """A score's text, marked when it is a kept probe's rather than the fine-tune's."""
    return f"{text} ({KEPT_PROBE_MARK})" if row.get("kept_probe") else text


def strategy_runs(config: RunConfig, strategies: Sequence[str]) -> dict[str, RunConfig]:
    """Each strategy's run in a comparison: the same epochs, batch size and split, except
    that the linear probe trains as many epochs as a probe-first fine-tune's probe stage
    when the comparison has one, so every strategy's probe gets the same budget."""
    probe_epochs = STRATEGY_DEFAULTS["linear-probe"][0]  # what a probe stage trains
    epochs = config.train.epochs or 10
    runs = {}
    for strategy in strategies:
        model = dataclasses.replace(config.model, strategy=strategy, trainable=None)
        train = dataclasses.replace(config.train, epochs=epochs)
        runs[strategy] = RunConfig(config.data, model, train)
    probes = any(run.resolved().train.probe_first for run in runs.values())
    if probes and "linear-probe" in runs:
        run = runs["linear-probe"]
        runs["linear-probe"] = dataclasses.replace(
            run, train=dataclasses.replace(run.train, epochs=probe_epochs))
    return runs


def compare_strategies(
    config: RunConfig,
    strategies: Sequence[str],
    out_root: str | os.PathLike[str],
    callbacks: Work | Iterable[Callback] = (),
    cancel: CancelToken | None = None,
    scan: Any = None,
    tensorboard: str | os.PathLike[str] | None = None,
) -> list[dict[str, Any]]:
    """Train each strategy on one scan of the data (so every run gets the same split), with the
    same epochs and batch size (the linear probe: as many as the fine-tunes' probe stage, see
    `strategy_runs`), and summarise them. `callbacks` may be a `Work`. With
    `tensorboard`, each run also logs for TensorBoard into a sub-folder of it named like its
    run folder."""
    from ..data.scan import scan_folder
    from ..data.trainable import require_trainable
    from ..train.loop import fit

    task = Work.of(callbacks, cancel)
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown:
        raise ValueError(f"unknown strategies: {', '.join(unknown)}")
    if scan is None:
        scan = scan_folder(config.data.root, verify=True, val_dir=config.data.val_dir,
                           callbacks=task)
    require_trainable(scan)
    runs = strategy_runs(config, strategies)
    rows = []
    for strategy, run in runs.items():
        out = Path(out_root) / strategy
        epochs = f"{run.train.epochs} epochs" + (
            ", as many as the fine-tunes' probe stage" if strategy == "linear-probe"
            and run.train.epochs != (config.train.epochs or 10) else "")
        task.message("info", f"— {strategy}: training into {out} ({epochs})")
        logs = Path(tensorboard) / strategy if tensorboard is not None else None
        result = fit(run, out, task, scan=scan, tensorboard=logs)
        rows.append(run_summary(out))
        if result.status == "cancelled":
            break
    return rows
