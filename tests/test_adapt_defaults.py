"""The adaptation defaults are the adaptation benchmark's choice and never land below
source-only on it (over its recorded table, `tests/bench/adaptation_results.json`, written
by `tests/bench/bench_adaptation.py`)."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

from transfer_gui.core.config import (
    ADAPT_LAYERS,
    ADAPT_NAMES,
    ADAPT_WEIGHTS,
    AUTO_ADAPT,
    GRADIENT_ADAPT,
    RunConfig,
    TransferConfig,
)

RESULTS = Path(__file__).parent / "bench" / "adaptation_results.json"


def recorded() -> dict:
    return json.loads(RESULTS.read_text())


def report_mean(data: dict, method: str, shift: str | None = None) -> float:
    """The method's mean target accuracy over the report seeds (of one shift, else all)."""
    seeds = [str(s) for s in data["chosen"]["report_seeds"]]
    shifts = [shift] if shift else list(data["results"])
    return statistics.mean(data["results"][s][seed][method][0] for s in shifts for seed in seeds)


def test_auto_and_the_weights_are_the_benchmarks_choice():
    data = recorded()
    chosen = data["chosen"]
    assert AUTO_ADAPT["frozen"] == chosen["frozen"]
    assert AUTO_ADAPT["trained"] == chosen["trained"]
    assert set(AUTO_ADAPT.values()) <= set(ADAPT_NAMES)
    assert chosen["weights"] == ADAPT_WEIGHTS
    assert chosen["layers"] == ADAPT_LAYERS
    assert not set(chosen["choice_seeds"]) & set(chosen["report_seeds"])
    frozen = RunConfig(transfer=TransferConfig("auto", target_dir="t")).resolved()
    assert frozen.transfer.mode == AUTO_ADAPT["frozen"] and frozen.transfer.auto
    for method in GRADIENT_ADAPT:
        run = RunConfig(transfer=TransferConfig(method, target_dir="t")).resolved()
        assert run.transfer.adapt_weight == ADAPT_WEIGHTS[method]
        assert run.transfer.adapt_layers == ADAPT_LAYERS[method]


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


def test_the_default_is_as_good_as_the_best_single_method_on_the_report_seeds():
    """On average over the shifts and the report seeds, `auto` for a trained network (the
    table's row it was chosen from: the fine-tune strategy then alignment, or a gradient
    method) is at least as good as each method alone, and beats source-only on every shift;
    the same for a frozen network among the statistics methods."""
    data = recorded()
    row = data["chosen"]["trained_row"]
    assert AUTO_ADAPT["trained"] == ("align" if row == "fine-tune top+align"
                                     else re.sub(r"@[^+]*", "", row))
    for auto, rivals in ((row, ("align", "adabn", *GRADIENT_ADAPT)),
                         (AUTO_ADAPT["frozen"], ("align", "adabn"))):
        default = report_mean(data, auto)
        for method in rivals:
            assert default >= report_mean(data, method), (auto, method, default)
        for shift in data["results"]:
            assert report_mean(data, auto, shift) > report_mean(data, "source only", shift), \
                (auto, shift)
