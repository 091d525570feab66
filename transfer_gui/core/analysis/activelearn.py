"""Which unlabelled images to label next, from their features and the probe's probabilities.

The strategies (`tests/bench/bench_active.py` measures them on real images):

- `random`: a random order, the field's control;
- `kmeans`: the plain baseline: k-means of the unlabelled images into as many clusters as
  images asked for, the image nearest each centre, largest clusters first;
- `typical`: typical and diverse (TypiClust, Hacohen et al. 2022): k-means into as many
  clusters as labels so far plus images asked for; from the largest clusters that hold no
  label yet, the densest image of each (the smallest mean distance to its neighbours);
- `margin`: least certain first (smallest gap between the probe's two likeliest classes);
- `margin-diverse`: the least certain few times the count, clustered, the least certain image
  of each cluster (uncertain, but not all alike);
- `auto`: `typical` while labels are few, then `margin-diverse` (the switch is measured).
"""

from __future__ import annotations

import numpy as np

SUGGEST_STRATEGIES = ("auto", "random", "kmeans", "typical", "margin", "margin-diverse")
# chosen by tests/bench/bench_active.py (BENCHMARKS.md): of switching at 10, 20, 50 or 100
# labels to margin or margin-diverse (3x or 10x), the one choice that met the targets
AUTO_SWITCH = 20  # labels from which `auto` turns from typical images to uncertain ones
AUTO_LATER = "margin-diverse"  # what `auto` turns to
CANDIDATES = 3  # margin-diverse clusters the least certain CANDIDATES x count images
NEIGHBOURS = 20  # typicality: the mean distance to this many neighbours in the cluster
MAX_DENSITY = 3000  # rows of one cluster its typicality is judged among
MAX_CLUSTERS = 500  # k-means cost grows with the clusters: more labels than this reuse it


def _kmeans(x: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(cluster of each row, centres); mini-batch k-means on large inputs (seconds, not
    minutes, at 20,000 images)."""
    from sklearn.cluster import KMeans, MiniBatchKMeans

    k = max(1, min(k, len(x)))
    if len(x) > 5000:
        model = MiniBatchKMeans(k, random_state=seed, n_init=3, batch_size=2048)
    else:
        model = KMeans(k, random_state=seed, n_init=1)
    assign = model.fit_predict(x)
    return assign, model.cluster_centers_


def _ordered_clusters(assign: np.ndarray, k: int, covered: np.ndarray) -> list[int]:
    """Clusters that hold no labelled image, largest first, then the covered ones."""
    sizes = np.bincount(assign, minlength=k)
    return sorted(range(k), key=lambda c: (bool(covered[c]), -sizes[c], c))


def _typicality(x: np.ndarray) -> np.ndarray:
    """1 / the mean distance of each row to its nearest rows (its own excluded)."""
    if len(x) == 1:
        return np.ones(1)
    sq = (x * x).sum(1)
    d = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0))
    k = min(NEIGHBOURS, len(x) - 1)
    near = np.partition(d, k, axis=1)[:, : k + 1]  # itself (0) and its k nearest
    return 1.0 / (near.sum(axis=1) / k + 1e-9)


def _densest(x: np.ndarray, rows: np.ndarray, seed: int) -> int:
    """The most typical of `rows`, judged among at most MAX_DENSITY of them (memory)."""
    if len(rows) > MAX_DENSITY:
        rows = np.random.default_rng(seed).choice(rows, MAX_DENSITY, replace=False)
    return int(rows[np.argmax(_typicality(x[rows]))])


def kmeans_order(x: np.ndarray, count: int, seed: int = 0) -> list[int]:
    """The plain baseline: the row nearest each of `count` k-means centres, largest first."""
    assign, centres = _kmeans(x, count, seed)
    out = []
    for c in _ordered_clusters(assign, len(centres), np.zeros(len(centres), bool)):
        rows = np.flatnonzero(assign == c)
        if len(rows):
            out.append(int(rows[np.argmin(((x[rows] - centres[c]) ** 2).sum(1))]))
    return out


def typical_order(x: np.ndarray, labelled: np.ndarray, count: int, seed: int = 0) -> list[int]:
    """Rows of unlabelled images, the densest of each uncovered cluster, largest first."""
    k = min(MAX_CLUSTERS, int(labelled.sum()) + count, len(x))
    assign, _ = _kmeans(x, k, seed)
    covered = np.bincount(assign[labelled], minlength=k) > 0
    out = []
    for c in _ordered_clusters(assign, k, covered):
        rows = np.flatnonzero((assign == c) & ~labelled)
        if len(rows):
            out.append(_densest(x, rows, seed))
        if len(out) == count:
            break
    return out


def margins(probs: np.ndarray) -> np.ndarray:
    """The gap between each row's two likeliest classes (small: uncertain)."""
    if probs.shape[1] < 2:
        return np.ones(len(probs))
    top = np.sort(probs, axis=1)[:, -2:]
    return top[:, 1] - top[:, 0]


def margin_diverse_order(x: np.ndarray, candidates: np.ndarray, probs: np.ndarray,
                         count: int, seed: int = 0) -> list[int]:
    """Among `candidates` (rows), the least certain CANDIDATES x count, in `count` clusters,
    the least certain of each cluster, least certain first."""
    gap = margins(probs[candidates])
    pool = candidates[np.argsort(gap, kind="stable")[: max(1, CANDIDATES) * count]]
    if len(pool) <= count:
        return [int(r) for r in pool]
    assign, _ = _kmeans(x[pool], count, seed)
    picks = [pool[assign == c][0] for c in range(count) if np.any(assign == c)]
    return [int(r) for r in picks]  # pool is least certain first, so is each cluster's first


def next_rows(x: np.ndarray, labelled: np.ndarray, probs: np.ndarray | None, count: int,
              strategy: str = "auto", seed: int = 0) -> list[int]:
    """Up to `count` rows of unlabelled images, the most useful to label first.

    `x`: every image's features (N x D); `labelled`: a boolean mask; `probs`: the probe's
    probabilities (N x C), or None when no probe could be fitted yet."""
    if strategy not in SUGGEST_STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}: one of {', '.join(SUGGEST_STRATEGIES)}")
    free = np.flatnonzero(~labelled)
    count = min(count, len(free))
    if count <= 0:
        return []
    if strategy == "auto":
        few = int(labelled.sum()) < AUTO_SWITCH or probs is None
        strategy = "typical" if few else AUTO_LATER
    if strategy == "random":
        return [int(r) for r in np.random.default_rng(seed).permutation(free)[:count]]
    if strategy == "kmeans":
        return [int(free[r]) for r in kmeans_order(x[free], count, seed)]
    if strategy == "typical" or probs is None:
        return typical_order(x, labelled, count, seed)
    if strategy == "margin":
        return [int(r) for r in free[np.argsort(margins(probs[free]), kind="stable")[:count]]]
    return margin_diverse_order(x, free, probs, count, seed)
