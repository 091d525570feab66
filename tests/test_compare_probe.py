"""Compare says when a fine-tune kept its probe, and gives every strategy's probe the same
budget."""

from __future__ import annotations

import pytest

from transfer_gui.cli.strategies import print_comparison
from transfer_gui.core.analysis.compare import run_summary, strategy_runs
from transfer_gui.core.config import (
    STRATEGY_DEFAULTS,
    DataConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
)
from transfer_gui.core.train.loop import Trainer

PROBE_EPOCHS = STRATEGY_DEFAULTS["linear-probe"][0]


def config(root, strategy="fine-tune", **train) -> RunConfig:
    train.setdefault("batch_size", 8)
    return RunConfig(DataConfig(root=str(root)), ModelConfig(backbone="tiny_cnn",
                                                             strategy=strategy),
                     TrainConfig(**train))


@pytest.fixture(scope="module")
def kept_and_not(shapes_dir, tmp_path_factory):
    """A fine-tune too slow to beat its probe (a rate that changes no weight) and a plain
    linear probe."""
    root = tmp_path_factory.mktemp("runs")
    Trainer().fit(config(shapes_dir, epochs=2, lr=1e-9), root / "kept", [])
    Trainer().fit(config(shapes_dir, "linear-probe", epochs=2), root / "probe", [])
    return run_summary(root / "kept"), run_summary(root / "probe")


def test_the_summary_of_a_run_that_kept_its_probe_says_so(kept_and_not):
    kept, probe = kept_and_not
    assert kept["kept_probe"] is True and kept["probe_epochs"] == PROBE_EPOCHS
    assert probe["kept_probe"] is False and probe["probe_epochs"] is None
    # the kept model is the probe's: it trained its head alone, like the plain probe
    assert kept["trainable_params"] == probe["trainable_params"] < kept["total_params"]


def test_the_terminal_table_marks_the_kept_probe(kept_and_not, capsys):
    kept, probe = kept_and_not
    print_comparison([kept, probe])
    lines = capsys.readouterr().out.splitlines()
    line = next(ln for ln in lines if ln.startswith("kept"))
    assert f"{kept['accuracy']:.1%} (kept its probe)" in line
    assert "kept its probe" not in next(ln for ln in lines if ln.startswith("probe"))


@pytest.mark.gui
def test_the_compare_table_marks_the_kept_probe(kept_and_not, qtbot):
    from transfer_gui.ui.widgets.tables.compare_table import CompareTable

    kept, probe = kept_and_not
    table = CompareTable()
    qtbot.addWidget(table)
    table.set_rows([(kept["run"], kept, "#1f77b4"), (probe["run"], probe, "#ff7f0e")])
    assert table.text(kept["run"], "Best acc").endswith(" (kept its probe)")
    assert "kept" not in table.text(probe["run"], "Best acc")


def test_a_strategy_comparison_gives_every_probe_the_same_epochs(shapes_dir):
    """The linear probe trains as many epochs as the probe stage of the fine-tunes, whatever
    the comparison's epochs; the others train the comparison's epochs."""
    runs = strategy_runs(config(shapes_dir, epochs=2), ["linear-probe", "fine-tune", "full",
                                                        "scratch"])
    assert runs["linear-probe"].train.epochs == PROBE_EPOCHS
    assert runs["fine-tune"].resolved().train.probe_first  # its epoch 1: a probe stage of
    assert [runs[s].train.epochs for s in ("fine-tune", "full", "scratch")] == [2, 2, 2]
    # without a probe-first fine-tune, the linear probe trains the comparison's epochs
    plain = strategy_runs(config(shapes_dir, epochs=2, probe_first=False),
                          ["linear-probe", "fine-tune"])
    assert plain["linear-probe"].train.epochs == 2
