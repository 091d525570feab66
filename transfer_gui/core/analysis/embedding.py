"""A 2-D map of image features, and how well the features separate the classes.

The map is PCA (to at most 50 dimensions) followed by t-SNE (openTSNE). openTSNE rather than
UMAP: it needs no just-in-time compilation (umap-learn's first call compiles its kernels, tens
of seconds before the first point), it reports every iteration (progress and cancellation)
and, for a given seed, it gives the same map every time.
"""

from __future__ import annotations

import numpy as np

from ..events import Work

PCA_DIMS = 50
MAP_ITERATIONS = (250, 500)  # early exaggeration, then the rest
FOLDS = 5


def normalised(features: np.ndarray) -> np.ndarray:
    """Rows centred on the mean and scaled to unit length (cosine geometry)."""
    x = np.asarray(features, dtype=np.float32)
    x = x - x.mean(axis=0, keepdims=True)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def reduced(features: np.ndarray, seed: int = 0, dims: int = PCA_DIMS) -> np.ndarray:
    """The normalised features projected on their first `dims` principal components."""
    from sklearn.decomposition import PCA

    x = normalised(features)
    n_comp = max(1, min(dims, x.shape[0] - 1, x.shape[1]))
    if x.shape[0] < 3:
        return x[:, :n_comp]
    return PCA(n_components=n_comp, random_state=seed).fit_transform(x).astype(np.float32)


def embed(features: np.ndarray, seed: int = 0, task: Work | None = None) -> np.ndarray:
    """N x 2 map coordinates of the N feature rows, the same for the same seed."""
    task = task or Work()
    n = len(features)
    if n == 0:
        return np.zeros((0, 2), dtype=np.float32)
    if n < 5:  # too few points for t-SNE's neighbourhoods: the first two components
        x = reduced(features, seed, 2)
        return np.pad(x, ((0, 0), (0, 2 - x.shape[1]))).astype(np.float32)
    from openTSNE import TSNE

    x = reduced(features, seed)
    total = sum(MAP_ITERATIONS)
    done = [0]

    def report(iteration: int, _error: float, _embedding: object) -> bool:
        task.check()
        done[0] = min(total, done[0] + 25)
        task.progress(done[0], total, "map")
        return False

    tsne = TSNE(n_components=2, perplexity=min(30.0, (n - 1) / 3), random_state=seed,
                n_jobs=1, initialization="pca", early_exaggeration_iter=MAP_ITERATIONS[0],
                n_iter=MAP_ITERATIONS[1], callbacks=report, callbacks_every_iters=25,
                negative_gradient_method="bh" if n < 2000 else "fft", verbose=False)
    task.progress(0, total, "map")
    out = np.asarray(tsne.fit(x), dtype=np.float32)
    task.progress(total, total, "map")
    return out


def separability(features: np.ndarray, labels: np.ndarray, seed: int = 0,
                 k: int = 10) -> float | None:
    """Cross-validated k-NN accuracy (cosine, up to 5 stratified folds) on the features; None
    when a class has fewer than two images."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    labels = np.asarray(labels)
    counts = np.bincount(labels) if len(labels) else np.zeros(0, int)
    present = counts[counts > 0]
    if len(present) < 2 or present.min() < 2:
        return None
    folds = int(min(FOLDS, present.min()))
    x = reduced(features, seed)
    neighbours = max(1, min(k, int(len(labels) * (folds - 1) / folds) - 1))
    knn = KNeighborsClassifier(n_neighbors=neighbours, metric="cosine")
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return float(np.mean(cross_val_score(knn, x, labels, cv=cv)))
