"""Likely label errors: a probe's out-of-fold probabilities, and the review list's order.

Each image's probabilities come from a logistic regression fitted on the cached features of the
other folds, so no image grades itself. The review list ranks every image by a `method`:
"self-confidence" (the probability of its given label, lowest first), "margin" (that
probability less the best other class's) or "confident-learning" (cleanlab's
`find_label_issues`: per-class thresholds flag the images, ranked by self-confidence, and the
images it does not flag follow). The default method and probe (`DEFAULT_METHOD`,
`DEFAULT_PROBE`) are the ones that found the most planted label flips on real photographs
(tests/bench/bench_label_errors.py).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..events import Work
from .embedding import normalised, reduced

FOLDS = 5
METHODS = ("confident-learning", "self-confidence", "margin")


@dataclass(frozen=True)
class Probe:
    """How the out-of-fold probe reads the features: `scale` "standard" (each feature to zero
    mean, unit variance), "normalise" (rows centred and scaled to unit length) or "none";
    `pca`: project on that many principal components first (None: all features); `c`: the
    inverse strength of the L2 penalty of the logistic regression."""

    scale: str = "standard"
    pca: int | None = None
    c: float = 1.0

    def describe(self) -> str:
        parts = [{"standard": "standardised", "normalise": "unit length",
                  "none": "raw"}[self.scale]]
        if self.pca:
            parts.append(f"PCA {self.pca}")
        return ", ".join([*parts, f"C={self.c:g}"])


# chosen by tests/bench/bench_label_errors.py (recall of planted flips in the top 100 of the
# review list, real photographs among the sets; see BENCHMARKS.md, Likely label errors)
DEFAULT_PROBE = Probe("standard", None, 1.0)
DEFAULT_METHOD = "self-confidence"


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


def probe_inputs(features: np.ndarray, probe: Probe, seed: int = 0) -> np.ndarray:
    """The features as `probe` reads them. Scaling and PCA are fitted on every row, labels
    unseen, so no held-out label leaks into a fold."""
    x = np.asarray(features, dtype=np.float64)
    if probe.scale == "standard":
        x = (x - x.mean(axis=0)) / np.maximum(x.std(axis=0), 1e-6)
    elif probe.scale == "normalise":
        x = normalised(x).astype(np.float64)
    elif probe.scale != "none":
        raise ValueError(f"unknown scaling {probe.scale!r}")
    if probe.pca:
        x = reduced(x, seed, probe.pca) if probe.scale == "normalise" else _pca(x, probe.pca,
                                                                               seed)
    return np.asarray(x, dtype=np.float32)


def _pca(x: np.ndarray, dims: int, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    n_comp = max(1, min(dims, x.shape[0] - 1, x.shape[1]))
    return PCA(n_components=n_comp, random_state=seed).fit_transform(x)


def out_of_fold_probabilities(features: np.ndarray, labels: np.ndarray, num_classes: int,
                              seed: int = 0, folds: int = FOLDS,
                              task: Work | None = None,
                              probe: Probe = DEFAULT_PROBE) -> np.ndarray:
    """N x C probabilities, each row from a probe that never saw that image."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    task = task or Work()
    labels = np.asarray(labels, dtype=int)
    probs = np.full((len(labels), num_classes), 1.0 / max(num_classes, 1))
    if len(labels) < 4 or len(set(labels.tolist())) < 2:
        return probs
    x = probe_inputs(features, probe, seed)
    n_folds = _folds(labels, folds)
    with warnings.catch_warnings():  # a class smaller than the folds, slow convergence: warned
        warnings.simplefilter("ignore")
        splits = list(StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(x, labels))
        for done, (fit_rows, held_rows) in enumerate(splits):
            task.check()
            task.progress(done, n_folds, "label check")
            if len(set(labels[fit_rows].tolist())) < 2:
                continue
            fitted = LogisticRegression(C=probe.c, max_iter=1000)
            fitted.fit(x[fit_rows], labels[fit_rows])
            probs[np.ix_(held_rows, fitted.classes_)] = fitted.predict_proba(x[held_rows])
            probs[np.ix_(held_rows, np.setdiff1d(np.arange(num_classes), fitted.classes_))] = 0
    task.progress(n_folds, n_folds, "label check")
    return probs


def ranked(probs: np.ndarray, labels: np.ndarray,
           method: str = DEFAULT_METHOD) -> tuple[list[int], set[int]]:
    """Every row, most likely mislabelled first, and the rows the method flags (the probe
    prefers another class; confident learning: its own estimate)."""
    labels = np.asarray(labels, dtype=int)
    rows = np.arange(len(labels))
    given = probs[rows, labels]
    order = [int(i) for i in np.argsort(given, kind="stable")]
    if method in ("self-confidence", "margin"):
        flagged = {i for i in order if probs[i].argmax() != labels[i]}
        if method == "margin":  # the given label's probability less the best other one's
            others = probs.copy()
            others[rows, labels] = -np.inf
            order = [int(i) for i in np.argsort(given - others.max(axis=1), kind="stable")]
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
                 method: str = DEFAULT_METHOD, task: Work | None = None,
                 probe: Probe = DEFAULT_PROBE) -> list[LabelIssue]:
    """Every image as a `LabelIssue`, most likely mislabelled first."""
    probs = out_of_fold_probabilities(features, labels, num_classes, seed, task=task,
                                      probe=probe)
    order, flagged = ranked(probs, labels, method)
    return [LabelIssue(i, int(labels[i]), int(probs[i].argmax()), float(probs[i].max()),
                       float(probs[i, int(labels[i])]), i in flagged) for i in order]
