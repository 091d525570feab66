"""Which strategy to try next, from a finished probe run's own figures (no torch import: the
GUI reads it on its thread).

A frozen-backbone probe says how far the pretrained features go on the user's images. Near
100 % there is little left to gain; well below it, or with training accuracy far above
validation accuracy (the head fits what the features do not generalise), adapting the
features themselves by fine-tuning is the next thing to try.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import STRATEGY_NAMES
from ..io.runmeta import RunError, read_meta

PROBES = ("linear-probe", "logistic", "knn")
HIGH = 0.97  # a probe at or above this leaves little room
GAP = 0.08  # train minus validation accuracy that counts as a wide gap


def _same(a: str, b: str) -> bool:
    try:
        return bool(a) and Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def probe_advice(meta: dict[str, Any], data_root: str) -> str:
    """Advice after a probe run (its `run.json`) on `data_root`; "" when there is none."""
    config = v if isinstance(v := meta.get("config"), dict) else {}
    strategy = (config.get("model") or {}).get("strategy")
    root = (config.get("data") or {}).get("root", "")
    best = v if isinstance(v := meta.get("best"), dict) else {}
    val = best.get("val_acc")
    if strategy not in PROBES or not _same(root, data_root) or not isinstance(val, int | float):
        return ""
    history = v if isinstance(v := meta.get("history"), list) else []
    row: dict[str, Any] = next((r for r in history if isinstance(r, dict)
                                and r.get("epoch") == best.get("epoch")), {})
    train = row.get("train_acc")
    gap = train - val if isinstance(train, int | float) else 0.0
    said = f"The {strategy} run reached {val:.1%} validation accuracy"
    if train is not None:
        said += f" ({train:.1%} on its training images)"
    if val >= HIGH and gap < GAP:
        return f"{said}. The pretrained features already suit this data: little to gain."
    why = ("a wide train/validation gap" if gap >= GAP
           else "well below 100 %" if val < 0.9 else "some room below 100 %")
    return (f"{said}: {why}. Fine-tuning can adapt the features to these images: try "
            f"“{STRATEGY_NAMES['fine-tune']}”. It starts from this kind of probe and keeps "
            f"the probe if it does not improve on it; Compare measures the difference.")


def run_advice(run_dir: str, data_root: str) -> str:
    """`probe_advice` for a run folder; "" when it is no readable run."""
    try:
        return probe_advice(read_meta(run_dir), data_root)
    except RunError:
        return ""
