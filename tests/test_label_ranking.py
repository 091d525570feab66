"""The review list's order: the benchmark's choice is the default everywhere, and it puts
planted label flips first."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import numpy as np

from transfer_gui.cli.inspect import LABEL_METHOD, LABEL_METHODS
from transfer_gui.core.analysis import know_your_data
from transfer_gui.core.analysis.labelissues import (
    DEFAULT_METHOD,
    DEFAULT_PROBE,
    METHODS,
    Probe,
    label_issues,
)

CHOICE = Path(__file__).parent / "bench" / "label_errors_choice.json"


def test_the_default_is_the_benchmarks_choice_everywhere():
    choice = json.loads(CHOICE.read_text())
    assert choice["method"] == DEFAULT_METHOD
    assert Probe(**choice["probe"]) == DEFAULT_PROBE
    assert LABEL_METHOD == DEFAULT_METHOD and set(LABEL_METHODS) == set(METHODS)
    for function in (know_your_data.inspect, know_your_data.inspect_data):  # the window calls these as they stand
        assert inspect.signature(function).parameters["method"].default == DEFAULT_METHOD


def _planted(seed: int = 0) -> tuple[np.ndarray, np.ndarray, set[int]]:
    """Four classes of 40 feature rows (128 dimensions, like pooled backbone features, each
    class a cloud around its centre), and 8 labels flipped to another class."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (4, 128))
    labels = np.repeat(np.arange(4), 40)
    features = centres[labels] + rng.normal(0, 1, (len(labels), 128))
    flips = rng.choice(len(labels), 8, replace=False)
    noisy = labels.copy()
    for i in flips:
        noisy[i] = rng.choice([c for c in range(4) if c != labels[i]])
    return features.astype(np.float32), noisy, {int(i) for i in flips}


def test_the_default_ranking_puts_planted_flips_first():
    for seed in (0, 1, 2):
        features, noisy, flips = _planted(seed)
        issues = label_issues(features, noisy, 4, seed)
        top = {issue.index for issue in issues[: len(flips)]}
        assert top == flips, f"seed {seed}: {sorted(top - flips)} ranked above a flip"
        assert all(issue.suggested != issue.given for issue in issues[: len(flips)])
