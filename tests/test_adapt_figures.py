"""An adapted run reports its saved (adapted) model's figures: the log's best validation
accuracy, run.json's `best`, and Compare's accuracy and F1 are all the adapted model's on the
validation split, the same figures `evaluate RUN` gives."""

from __future__ import annotations

import pytest

from imagegen import make_dataset
from transfer_gui.cli import main
from transfer_gui.core.analysis.compare import run_summary
from transfer_gui.core.analysis.evaluation import evaluate_run
from transfer_gui.core.io import bundle


@pytest.mark.parametrize("mode", ["auto", "adabn+align"])
def test_an_adapted_run_reports_the_saved_models_figures(tmp_path, capsys, mode):
    source = make_dataset(tmp_path / "source", per_class=12, size=40)
    target = make_dataset(tmp_path / "target", per_class=12, size=40, seed=1, invert=True)
    run = tmp_path / "run"
    strategy = "linear-probe" if mode == "auto" else "full"
    assert main(["train", str(source), "--target-unlabeled", str(target), "--adapt", mode,
                 "--strategy", strategy, "--backbone", "tiny_cnn", "--epochs", "3",
                 "--batch-size", "8", "--image-size", "32", "--workers", "0",
                 "--out", str(run)]) == 0
    log = capsys.readouterr().out
    meta = bundle.read_meta(run)
    saved = evaluate_run(run, device="cpu").result  # the validation split, as `evaluate RUN`
    best = meta["best"]
    assert best["val_acc"] == pytest.approx(saved.accuracy, abs=1e-6)
    assert f"best validation accuracy {saved.accuracy:.1%}" in log
    trained = meta["adaptation"]["val_acc_trained"]  # the model before the statistics steps
    assert trained is not None
    row = run_summary(run)
    assert row["best_val_acc"] == pytest.approx(row["accuracy"], abs=1e-6)
    assert row["macro_f1"] == pytest.approx(saved.macro_f1)
