"""The adaptation defaults are the adaptation benchmark's choice and never land below
source-only on it (over its recorded table, `tests/bench/adaptation_results.json`, written
by `tests/bench/bench_adaptation.py`)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from transfer_gui.core.config import ADAPT_NAMES, AUTO_ADAPT, RunConfig, TransferConfig

RESULTS = Path(__file__).parent / "bench" / "adaptation_results.json"


def recorded() -> dict:
    return json.loads(RESULTS.read_text())


def test_auto_is_the_benchmarks_choice():
    data = recorded()
    assert AUTO_ADAPT["frozen"] == data["chosen"]["frozen"]
    assert AUTO_ADAPT["trained"] == data["chosen"]["trained"]
    assert set(AUTO_ADAPT.values()) <= set(ADAPT_NAMES)
    frozen = RunConfig(transfer=TransferConfig("auto", target_dir="t")).resolved()
    assert frozen.transfer.mode == AUTO_ADAPT["frozen"] and frozen.transfer.auto


def test_no_adaptation_default_lands_below_source_only_on_any_shift():
    """Averaged over every recorded seed (choice and report seeds) of each shift."""
    data = recorded()
    for mode in set(AUTO_ADAPT.values()):
        for shift, seeds in data["results"].items():
            runs = [r for r in seeds.values() if mode in r]
            assert runs, (mode, shift)
            adapted = statistics.mean(r[mode][0] for r in runs)
            source = statistics.mean(r["source only"][0] for r in runs)
            assert adapted >= source, (mode, shift, adapted, source)
