"""Unbalanced classes: what "auto" chooses, the loss's class weights and the balanced draw.

Two ways to keep a small class from being drowned by the large ones:

* "weighted": the cross-entropy weights each image by the inverse of its class's size in the
  training split (n / (C * n_c), the weights scikit-learn calls "balanced"), so every class
  weighs the same in the loss. The "effective number" weights of Cui et al. (2019), with their
  usual beta of 0.999 or more, differ from these by under 5 % below about a hundred images per
  class, which is the size of the sets this application trains on; inverse frequency is the
  same thing stated more simply.
* "sampler": each epoch draws as many images as the training split holds, with replacement,
  each class equally likely (torch's `WeightedRandomSampler`, seeded like the ordinary
  shuffle, so a run and a resumed run draw the same images).

"auto" balances only a split whose largest class has at least `config.BALANCE_RATIO` times the
images of its smallest, and then uses `config.BALANCE_AUTO`: the class-weighted loss, which
found the small class more often than the sampler on real photographs (Fashion-MNIST, one
class of 10 images beside nine of 100) and on the 10:1 generated set of
tests/bench/bench_unbalanced.py (tests/bench/BENCHMARKS.md, (j) and (o)).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import torch
from torch.utils.data import WeightedRandomSampler

from ..config import BALANCE_AUTO, BALANCE_RATIO

WORDS = {"none": "none", "weighted": "class-weighted loss", "sampler": "balanced sampler"}


def class_counts(labels: Sequence[int], num_classes: int) -> list[int]:
    """How many of `labels` fall in each class."""
    counted = Counter(labels)
    return [counted.get(c, 0) for c in range(num_classes)]


def imbalance(counts: Sequence[int]) -> float:
    """The largest class's count over the smallest's (classes without images left out)."""
    present = [c for c in counts if c]
    return max(present) / min(present) if present else 1.0


def resolve_balance(choice: str | None, counts: Sequence[int]) -> str:
    """The concrete option ("none", "weighted" or "sampler") for `choice` (None: auto) on a
    training split of these class counts."""
    if choice is not None:
        return choice
    return BALANCE_AUTO if imbalance(counts) >= BALANCE_RATIO else "none"


def class_weights(counts: Sequence[int]) -> torch.Tensor:
    """Each class's loss weight, n / (C * n_c): 1 for every class of a balanced split; a class
    without training images gets 0 (it never appears as a target)."""
    present = [c for c in counts if c]
    total, classes = sum(present), len(present)
    return torch.tensor([total / (classes * c) if c else 0.0 for c in counts],
                        dtype=torch.float32)


def balanced_draw(labels: Sequence[int], seed: int, epoch: int) -> list[int]:
    """An epoch's indices into `labels`: as many as there are, drawn with replacement, each
    class equally likely; fixed by the seed and the epoch."""
    counted = Counter(labels)
    weights = [1.0 / counted[label] for label in labels]
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    sampler = WeightedRandomSampler(weights, len(labels), replacement=True, generator=generator)
    return list(sampler)
