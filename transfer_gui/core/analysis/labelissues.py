"""Likely label errors: a probe's out-of-fold probabilities, ranked by confident learning.

Each image's probabilities come from a logistic regression fitted on the cached features of the
other folds, so no image grades itself. cleanlab's `find_label_issues` (confident learning:
per-class thresholds, an estimate of how many labels are wrong) flags the images, ranked by the
probability of their given label; the images it does not flag follow in the same order, so the
list is a full ranking. `method="self-confidence"` is the plain ranking by that probability.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..events import Task
from .embedding import reduced

FOLDS = 5
METHODS = ("confident-learning", "self-confidence")


@dataclass(frozen=True)
class LabelIssue:
    index: int  # row in the inspected samples
    given: int
    suggested: int  # the probe's most likely class
    confidence: float  # the out-of-fold probability of `suggested`
    given_probability: float
    flagged: bool  # confident learning calls this label wrong


def _folds(labels: np.ndarray, folds: int) -> int:
    counts = np.bincount(labels)
    return int(max(2, min(folds, counts[counts > 0].max())))


def out_of_fold_probabilities(features: np.ndarray, labels: np.ndarray, num_classes: int,
                              seed: int = 0, folds: int = FOLDS,
                              task: Task | None = None) -> np.ndarray:
    """N x C probabilities, each row from a probe that never saw that image."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    task = task or Task()
    labels = np.asarray(labels, dtype=int)
    probs = np.full((len(labels), num_classes), 1.0 / max(num_classes, 1))
    if len(labels) < 4 or len(set(labels.tolist())) < 2:
        return probs
    x = reduced(features, seed, 128)  # not whitened: that lifts the noise of small components
    n_folds = _folds(labels, folds)
    with warnings.catch_warnings():  # a class smaller than the folds: sklearn only warns
        warnings.simplefilter("ignore")
        splits = list(StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(x, labels))
        for done, (fit_rows, held_rows) in enumerate(splits):
            task.check()
            task.progress(done, n_folds, "label check")
            if len(set(labels[fit_rows].tolist())) < 2:
                continue
            probe = LogisticRegression(C=1.0, max_iter=1000)
            probe.fit(x[fit_rows], labels[fit_rows])
            probs[np.ix_(held_rows, probe.classes_)] = probe.predict_proba(x[held_rows])
            probs[np.ix_(held_rows, np.setdiff1d(np.arange(num_classes), probe.classes_))] = 0
    task.progress(n_folds, n_folds, "label check")
    return probs


def ranked(probs: np.ndarray, labels: np.ndarray,
           method: str = "confident-learning") -> tuple[list[int], set[int]]:
    """Every row, most likely mislabelled first, and the rows the method flags."""
    labels = np.asarray(labels, dtype=int)
    given = probs[np.arange(len(labels)), labels]
    order = [int(i) for i in np.argsort(given, kind="stable")]
    if method == "self-confidence":
        flagged = {i for i in order if probs[i].argmax() != labels[i]}
        return order, flagged
    if method != "confident-learning":
        raise ValueError(f"unknown method {method!r}: one of {', '.join(METHODS)}")
    present = np.bincount(labels, minlength=probs.shape[1])
    if len(labels) < 2 or (present == 0).any():  # cleanlab needs every class present
        return ranked(probs, labels, "self-confidence")
    from cleanlab.filter import find_label_issues

    try:
        with warnings.catch_warnings():  # "too few examples in class ...": flagged as it can
            warnings.simplefilter("ignore", UserWarning)
            # one process: its default forks a pool, which can hang a process that runs
            # threads (the window's worker, torch's), and gains nothing at these sizes
            found = find_label_issues(labels, probs, return_indices_ranked_by="self_confidence",
                                      n_jobs=1)
    except (ValueError, IndexError):  # too few images per class for its estimates
        return ranked(probs, labels, "self-confidence")
    first = [int(i) for i in found]
    flagged = set(first)
    return first + [i for i in order if i not in flagged], flagged


def label_issues(features: np.ndarray, labels: np.ndarray, num_classes: int, seed: int = 0,
                 method: str = "confident-learning",
                 task: Task | None = None) -> list[LabelIssue]:
    """Every image as a `LabelIssue`, most likely mislabelled first."""
    probs = out_of_fold_probabilities(features, labels, num_classes, seed, task=task)
    order, flagged = ranked(probs, labels, method)
    return [LabelIssue(i, int(labels[i]), int(probs[i].argmax()), float(probs[i].max()),
                       float(probs[i, int(labels[i])]), i in flagged) for i in order]
