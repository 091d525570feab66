"""A run of several tasks, or of a multi-label one, measured task by task.

A single-label task gets the usual `metrics.EvalResult` (accuracy, per-class scores, confusion
matrix). A multi-label task gets a `LabelTable`: per label precision, recall and F1 at the
label's threshold, and its average precision; their mean (mAP) and the exact-match ratio (the
images whose every label is right). The per-label thresholds are chosen on the run's
validation split (the F1-best cut of each label) and stored in its `run.json`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..data.labels import LabelTask, decode
from ..data.scan import Sample
from .metrics import EvalResult, build_result

DEFAULT_THRESHOLD = 0.5


@dataclass
class LabelTable:
    """A multi-label task's figures over N images and L labels."""

    classes: list[str]
    truth: np.ndarray  # N x L, 0/1
    probs: np.ndarray  # N x L
    thresholds: np.ndarray  # L
    paths: list[str]

    @property
    def predicted(self) -> np.ndarray:
        return self.probs >= self.thresholds[None, :]

    @property
    def exact_match(self) -> float:
        if not len(self.truth):
            return 0.0
        return float((self.predicted == (self.truth > 0.5)).all(axis=1).mean())

    def per_label(self) -> list[dict[str, Any]]:
        rows = []
        for j, name in enumerate(self.classes):
            t, p = self.truth[:, j] > 0.5, self.predicted[:, j]
            tp, fp, fn = int((t & p).sum()), int((~t & p).sum()), int((t & ~p).sum())
            precision = tp / (tp + fp) if tp + fp else 0.0
            recall = tp / (tp + fn) if tp + fn else 0.0
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
            rows.append({"label": name, "precision": precision, "recall": recall, "f1": f1,
                         "ap": average_precision(t, self.probs[:, j]),
                         "threshold": float(self.thresholds[j]), "support": int(t.sum())})
        return rows

    @property
    def mean_ap(self) -> float:
        aps = [r["ap"] for r in self.per_label() if r["support"]]
        return float(np.mean(aps)) if aps else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "multi-label", "map": self.mean_ap, "exact_match": self.exact_match,
                "count": len(self.truth), "labels": list(self.classes),
                "per_label": self.per_label()}


def average_precision(truth: np.ndarray, scores: np.ndarray) -> float:
    """The mean of the precision at each positive, ranked by score (0 without positives)."""
    positives = int(truth.sum())
    if not positives:
        return 0.0
    order = np.argsort(-scores, kind="stable")
    hits = truth[order].astype(np.float64)
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / positives)


def best_thresholds(truth: np.ndarray, probs: np.ndarray) -> list[float]:
    """Per label, the cut that maximises F1 on (`truth`, `probs`): midway between the scores
    it separates; 0.5 for a label without positives."""
    out = []
    for j in range(probs.shape[1]):
        t, s = truth[:, j] > 0.5, probs[:, j]
        if not t.any():
            out.append(DEFAULT_THRESHOLD)
            continue
        cuts = np.unique(s)
        f1 = [_f1(t, s >= c) for c in cuts]
        best = int(np.argmax(f1))
        below = s[s < cuts[best]]
        out.append(float((cuts[best] + below.max()) / 2 if len(below) else cuts[best]))
    return out


def _f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    tp = float((truth & predicted).sum())
    denom = float(truth.sum() + predicted.sum())
    return 2 * tp / denom if denom else 0.0


def columns(tasks: Sequence[LabelTask]) -> list[slice]:
    """Each task's columns of the probabilities (one per class)."""
    out, start = [], 0
    for t in tasks:
        out.append(slice(start, start + len(t.classes)))
        start += len(t.classes)
    return out


def truth_of(tasks: Sequence[LabelTask], samples: Sequence[Sample]) -> list[list[list[str]]]:
    """Per sample, each task's true labels."""
    return [decode(tasks, s.targets) if s.targets else [[tasks[0].classes[s.label]]]
            for s in samples]


def task_results(tasks: Sequence[LabelTask], samples: Sequence[Sample], probs: np.ndarray,
                 thresholds: dict[str, list[float]] | None = None
                 ) -> dict[str, EvalResult | LabelTable]:
    """Each task's figures, by column name, from the probabilities (N x all classes)."""
    truths = truth_of(tasks, samples)
    paths = [s.path for s in samples]
    out: dict[str, EvalResult | LabelTable] = {}
    for i, (t, cols) in enumerate(zip(tasks, columns(tasks), strict=True)):
        part = probs[:, cols]
        if t.multi_label:
            truth = np.array([[c in row[i] for c in t.classes] for row in truths], dtype=float)
            cuts = (thresholds or {}).get(t.name) or [DEFAULT_THRESHOLD] * len(t.classes)
            out[t.name] = LabelTable(list(t.classes), truth.reshape(len(paths), -1), part,
                                     np.array(cuts, dtype=float), paths)
        else:
            target = np.array([t.classes.index(row[i][0]) for row in truths], dtype=np.int64)
            out[t.name] = build_result(list(t.classes), paths, target, part)
    return out


def results_dict(results: dict[str, EvalResult | LabelTable]) -> dict[str, Any]:
    """Every task's figures under its column name, for JSON."""
    out = {}
    for name, r in results.items():
        out[name] = r.to_dict() if isinstance(r, LabelTable) else {"kind": "single-label",
                                                                   **r.to_dict()}
    return out


def answers_line(answers: dict[str, list[dict[str, Any]]]) -> str:
    """An image's answer per task on one line: `ink red 97%; tags red 91%, green 88%`."""
    parts = []
    for name, listed in answers.items():
        shown = ", ".join(f"{a['label']} {a['probability']:.0%}" for a in listed[:3])
        parts.append(f"{name} {shown or '(no label over its threshold)'}")
    return "; ".join(parts)


def task_answers(tasks: Sequence[LabelTask], probs: np.ndarray,
                 thresholds: dict[str, list[float]] | None = None,
                 top_k: int = 3) -> dict[str, list[dict[str, Any]]]:
    """One image's answer per task: the top classes with their probabilities, or every label
    over its threshold (most probable first)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for t, cols in zip(tasks, columns(tasks), strict=True):
        part = probs[cols]
        ranked = [int(j) for j in np.argsort(-part, kind="stable")]
        if t.multi_label:
            cuts = (thresholds or {}).get(t.name) or [DEFAULT_THRESHOLD] * len(t.classes)
            order = [j for j in ranked if part[j] >= cuts[j]]
        else:
            order = ranked[: max(1, top_k)]
        out[t.name] = [{"label": t.classes[j], "probability": float(part[j])} for j in order]
    return out
