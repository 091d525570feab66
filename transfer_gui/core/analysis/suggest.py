"""Suggestions while labelling: a linear probe on the labels so far, over cached features.

`pool_features` takes the frozen backbone's features of every image of a `LabelPool` from
the feature cache (computing only what is missing), reduced once to their principal
components. `suggest` then fits a logistic-regression probe on the labelled rows (a fraction
of a second), gives every unlabelled image a suggested class and its probability, estimates
the accuracy of such a probe by cross-validation on the labels, and orders the unlabelled
images to label next (`activelearn.py`). Suggestions are advice: nothing here writes a label.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from ..data.labelpool import LabelPool
from ..data.scan import DataError, Sample
from ..events import CancelToken, Work
from .activelearn import next_rows
from .embedding import reduced

PROBE_DIMS = 128
PROBE_C = 10.0  # features are unit-length rows: a weaker penalty than sklearn's default
FOLDS = 5


@dataclass
class PoolFeatures:
    """Reduced features of a pool's images, one row per file."""

    files: list[str]
    x: np.ndarray  # N x D float32
    backbone: str = ""
    unreadable: list[str] = field(default_factory=list)

    def rows(self, files: Iterable[str]) -> np.ndarray:
        where = {f: i for i, f in enumerate(self.files)}
        return np.array([where[f] for f in files], dtype=int)


@dataclass(frozen=True)
class Suggestion:
    file: str
    label: str | None  # None: no probe yet (fewer than two classes labelled)
    confidence: float


@dataclass
class Suggestions:
    classes: list[str]  # the probe's classes
    by_file: dict[str, Suggestion]  # every unlabelled image
    next: list[str]  # unlabelled images to label next, most useful first
    cv_accuracy: float | None  # None: too few labels to estimate it
    labelled: int = 0
    disagreements: dict[str, str] = field(default_factory=dict)  # labelled file -> the
    # class a probe that never saw it predicts, where that differs from its label


def from_features(files: list[str], features: np.ndarray, backbone: str = "",
                  seed: int = 0) -> PoolFeatures:
    return PoolFeatures(list(files), reduced(features, seed, PROBE_DIMS), backbone)


def pool_features(pool: LabelPool, backbone: str = "efficientnet_lite0", device: str = "auto",
                  batch_size: int = 32, callbacks: Work | Iterable = (),
                  cancel: CancelToken | None = None) -> PoolFeatures:
    """The backbone's features of every image of `pool`, through the feature cache."""
    from ..data.datasets import Preprocess
    from ..models.backbones import get_spec
    from ..models.weights import build_model
    from ..train.features import FeatureRequest, body_features, open_store
    from ..train.recipe import amp_dtype, pick_device

    if not pool.files:
        raise DataError(f"{pool.root} holds no images (searched with its sub-folders; "
                        "supported: JPEG, PNG, BMP, GIF, TIFF, WebP)")
    task = Work.of(callbacks, cancel)
    spec = get_spec(backbone)
    pre = Preprocess.for_backbone(spec)
    model = build_model(spec, 2, True, None, task)
    dev = pick_device(device)
    model = model.to(dev).eval()
    dtype = amp_dtype(dev, True)
    store = open_store(model, backbone, pre, dev, dtype, task)
    samples = [Sample(str(pool.root / f), 0) for f in pool.files]
    request = FeatureRequest(samples, pre, batch_size, dev, dtype, phase="features")
    feats, failed = body_features(model, request, store, task)
    out = from_features(pool.files, feats.numpy().astype(np.float32), backbone)
    out.unreadable = [pool.files[i] for i in failed]
    return out


def fit_probe(x: np.ndarray, y: np.ndarray, seed: int = 0) -> object | None:
    """A logistic-regression probe, or None with fewer than two classes."""
    from sklearn.linear_model import LogisticRegression

    if len(np.unique(y)) < 2:
        return None
    probe = LogisticRegression(C=PROBE_C, max_iter=500, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings on tiny sets
        probe.fit(x, y)
    return probe


def probe_probabilities(x: np.ndarray, y: np.ndarray, rows: np.ndarray, num_classes: int,
                        seed: int = 0) -> np.ndarray | None:
    """len(rows) x num_classes probabilities of a probe fitted on (x, y); None: no probe."""
    probe = fit_probe(x, y, seed)
    if probe is None:
        return None
    out = np.zeros((len(rows), num_classes))
    out[:, probe.classes_] = probe.predict_proba(rows)  # type: ignore[attr-defined]
    return out


def cross_validated(x: np.ndarray, y: np.ndarray, seed: int = 0
                    ) -> tuple[float | None, np.ndarray]:
    """The probe's cross-validated accuracy on the labels, and each label's held-out
    prediction (-1 where none). Only classes with at least two labels take part (up to 5
    stratified folds); the accuracy is None when fewer than two such classes."""
    from sklearn.model_selection import StratifiedKFold

    predicted = np.full(len(y), -1)
    counts = np.bincount(y) if len(y) else np.zeros(0, int)
    keep = np.flatnonzero(np.isin(y, np.flatnonzero(counts >= 2)))
    if len(np.unique(y[keep])) < 2:
        return None, predicted
    folds = int(min(FOLDS, counts[counts >= 2].min()))
    splits = StratifiedKFold(folds, shuffle=True, random_state=seed).split(keep, y[keep])
    for fit_rows, held in splits:
        probe = fit_probe(x[keep[fit_rows]], y[keep[fit_rows]], seed)
        if probe is not None:
            predicted[keep[held]] = probe.predict(x[keep[held]])  # type: ignore[attr-defined]
    return float((predicted[keep] == y[keep]).mean()), predicted


def cv_accuracy(x: np.ndarray, y: np.ndarray, seed: int = 0) -> float | None:
    return cross_validated(x, y, seed)[0]


def suggest(features: PoolFeatures, labels: Mapping[str, str], count: int = 10,
            strategy: str = "auto", seed: int = 0, with_cv: bool = True) -> Suggestions:
    """The probe's suggestion for every unlabelled image and the next `count` to label."""
    known = [f for f in features.files if f in labels]
    classes = sorted({labels[f] for f in known})
    y = np.array([classes.index(labels[f]) for f in known], dtype=int)
    labelled = np.zeros(len(features.files), bool)
    labelled[features.rows(known)] = True
    x = features.x
    probs = probe_probabilities(x[labelled], y, x, len(classes), seed)
    free = np.flatnonzero(~labelled)
    by_file = {}
    for r in free:
        name = features.files[r]
        if probs is None:
            by_file[name] = Suggestion(name, None, 0.0)
        else:
            best = int(probs[r].argmax())
            by_file[name] = Suggestion(name, classes[best], float(probs[r, best]))
    rows = next_rows(x, labelled, probs, count, strategy, seed)
    score, held = cross_validated(x[labelled], y, seed) if with_cv else (None, np.zeros(0))
    disagree = {f: classes[p] for f, p, t in zip(known, held, y, strict=False)
                if p >= 0 and p != t}
    return Suggestions(classes, by_file, [features.files[r] for r in rows], score, len(known),
                       disagree)
