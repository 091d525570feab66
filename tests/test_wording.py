"""Counted words in messages: "1 epoch", never "1 epochs"."""

from __future__ import annotations

from transfer_gui.core.data.scan import FolderScan, Problem, Sample
from transfer_gui.core.wording import count, plural


def test_count_uses_the_singular_only_for_one():
    assert count(1, "epoch") == "1 epoch"
    assert count(0, "epoch") == "0 epochs"
    assert count(2, "image") == "2 images"
    assert count(1, "class") == "1 class"
    assert count(3, "class") == "3 classes"
    assert count(2, "strategy") == "2 strategies"
    assert count(2, "day") == "2 days"
    assert count(2, "child", "children") == "2 children"
    assert plural("box") == "boxes" and plural("batch") == "batches"


def test_scan_summary_counts_in_words():
    scan = FolderScan("/data", ["cat"], [Sample("/data/cat/a.png", 0)], [],
                      [Problem("/data/cat/b.png", "truncated")])
    assert scan.summary() == "1 class, 1 image, 1 skipped"
    two = FolderScan("/data", ["cat", "dog"], [Sample("a", 0), Sample("b", 1)], [])
    assert two.summary() == "2 classes, 2 images"
