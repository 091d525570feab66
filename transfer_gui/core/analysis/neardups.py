"""Near-duplicates: pairs of images whose features point the same way.

Cosine similarity of the centred, unit-length features, computed a block of rows at a time
(a matrix product each: memory stays at `BLOCK` x N however many images there are), keeping
the pairs at or above a threshold. Resized, re-encoded or slightly cropped copies of a photo
score about 0.92 and above with the bundled network on photos (different crops of one photo
up to about 0.92: the threshold is a setting).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..events import Work
from .embedding import normalised

THRESHOLD = 0.92
BLOCK = 1024
MAX_PAIRS = 5000


@dataclass(frozen=True)
class NearDuplicate:
    first: int
    second: int
    similarity: float


def near_duplicates(features: np.ndarray, threshold: float = THRESHOLD, block: int = BLOCK,
                    task: Work | None = None, limit: int = MAX_PAIRS) -> list[NearDuplicate]:
    """Pairs (i < j) with cosine similarity >= `threshold`, most similar first (at most
    `limit` of them)."""
    task = task or Work()
    x = normalised(features)
    n = len(x)
    pairs: list[NearDuplicate] = []
    for start in range(0, n, block):
        task.check()
        task.progress(start, n, "near-duplicates")
        sims = x[start:start + block] @ x[start:].T  # only j >= the block's rows
        rows, cols = np.nonzero(sims >= threshold)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            if c > r:
                pairs.append(NearDuplicate(start + r, start + c, float(min(sims[r, c], 1.0))))
    task.progress(n, n, "near-duplicates")
    pairs.sort(key=lambda p: (-p.similarity, p.first, p.second))
    return pairs[:limit]
