"""Classification metrics from predictions: confusion matrix (counted in `data.confusion`, which
training uses too), per-class scores, top losses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..data.confusion import confusion_matrix


def per_class_scores(matrix: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and support for each class (0 where undefined)."""
    tp = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0).astype(np.float64)
    support = matrix.sum(axis=1).astype(np.float64)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": support.astype(int)}


@dataclass(frozen=True)
class Item:
    """One evaluated image."""

    path: str
    target: int
    pred: int
    confidence: float  # probability of the predicted class
    loss: float


@dataclass
class EvalResult:
    classes: list[str]
    confusion: np.ndarray
    items: list[Item] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        total = self.confusion.sum()
        return float(np.trace(self.confusion) / total) if total else 0.0

    @property
    def loss(self) -> float:
        return float(np.mean([i.loss for i in self.items])) if self.items else float("nan")

    def per_class(self) -> list[dict[str, Any]]:
        scores = per_class_scores(self.confusion)
        return [
            {
                "class": name,
                "precision": float(scores["precision"][i]),
                "recall": float(scores["recall"][i]),
                "f1": float(scores["f1"][i]),
                "support": int(scores["support"][i]),
            }
            for i, name in enumerate(self.classes)
        ]

    @property
    def balanced_accuracy(self) -> float:
        """The mean recall over the classes that have images: every class counts the same,
        however many images it has (the accuracy itself on a balanced set)."""
        present = [c["recall"] for c in self.per_class() if c["support"] > 0]
        return float(np.mean(present)) if present else 0.0

    @property
    def macro_f1(self) -> float:
        present = [c["f1"] for c in self.per_class() if c["support"] > 0]
        return float(np.mean(present)) if present else 0.0

    def top_losses(self, k: int = 16) -> list[Item]:
        return sorted(self.items, key=lambda i: i.loss, reverse=True)[:k]

    def cell(self, target: int, pred: int) -> list[Item]:
        """The images behind one confusion-matrix cell, most confident first."""
        hits = [i for i in self.items if i.target == target and i.pred == pred]
        return sorted(hits, key=lambda i: i.confidence, reverse=True)

    def to_dict(self, top_k: int = 10) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "balanced_accuracy": self.balanced_accuracy,
            "loss": self.loss,
            "macro_f1": self.macro_f1,
            "count": int(self.confusion.sum()),
            "classes": list(self.classes),
            "per_class": self.per_class(),
            "confusion": self.confusion.tolist(),
            "top_losses": [
                {"path": i.path, "true": self.classes[i.target], "predicted": self.classes[i.pred],
                 "confidence": i.confidence, "loss": i.loss}
                for i in self.top_losses(top_k)
            ],
        }


def build_result(
    classes: list[str], paths: list[str], targets: np.ndarray, probs: np.ndarray
) -> EvalResult:
    """An `EvalResult` from class probabilities (N x C) and true labels."""
    preds = probs.argmax(axis=1)
    eps = 1e-12
    losses = -np.log(np.clip(probs[np.arange(len(targets)), targets], eps, 1.0))
    items = [
        Item(p, int(t), int(q), float(probs[i, q]), float(losses[i]))
        for i, (p, t, q) in enumerate(zip(paths, targets, preds, strict=True))
    ]
    return EvalResult(list(classes), confusion_matrix(targets, preds, len(classes)), items)
