"""One voice for a run's events: the command line prints and the window shows the engine's
sentences (`transfer_gui.core.runwords`), and the last line always says the best accuracy and
where the model is."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from transfer_gui.cli import main
from transfer_gui.cli.console import ConsoleReporter
from transfer_gui.core import (
    STRATEGY_NAMES,
    EpochEnded,
    FitEnded,
    FitStarted,
    Message,
    emit,
)
from transfer_gui.core.io import bundle
from transfer_gui.core.train.lpft import KEPT_PROBE

EVENTS = [
    FitStarted(epochs=3, steps_per_epoch=4, train_size=30, val_size=9, device="CPU",
               trainable_params=1234, total_params=56789, start_epoch=1),
    EpochEnded(epoch=2, epochs=3, train_loss=0.5, train_acc=0.8, val_loss=0.6, val_acc=0.7777,
               lr=1e-3, images_per_s=123.4, seconds=2.5, is_best=False),
    EpochEnded(epoch=3, epochs=3, train_loss=0.4, train_acc=0.9, val_loss=None, val_acc=None,
               lr=1e-3, images_per_s=99.0, seconds=2.0, is_best=True, target_acc=0.5),
    Message("warning", KEPT_PROBE),
    FitEnded("completed", 3, 1, 0.8889, 0.3, 75.0, "/runs/first", KEPT_PROBE),
]


def cli_lines(events: list) -> list[str]:
    """What the command line prints for `events` (its messages too, which go to stderr)."""
    out = io.StringIO()
    reporter = ConsoleReporter(out=out, err=out)
    for event in events:
        emit([reporter], event)
    return out.getvalue().splitlines()


def test_the_last_line_of_a_run_that_kept_its_probe_names_its_best_and_its_folder(
        shapes_dir, tmp_path, capsys):
    """A learning rate too small to change a weight ties with the probe, so the run completes
    and keeps the probe; its message must not replace the best accuracy and the folder."""
    run = tmp_path / "run"
    code = main(["train", str(shapes_dir), "--out", str(run), "--backbone", "tiny_cnn",
                 "--strategy", "fine-tune", "--epochs", "2", "--lr", "1e-9",
                 "--batch-size", "8"])
    assert code == 0
    meta = bundle.read_meta(run)
    assert meta["status"] == "completed" and meta["message"] == KEPT_PROBE
    last = capsys.readouterr().out.strip().splitlines()[-1]
    best = meta["best"]["val_acc"]
    assert f"best validation accuracy {best:.1%} (epoch 1)" in last
    assert "kept the probe" in last
    assert last.endswith(f"Model saved in {run}.")


@pytest.mark.parametrize("status, message, where", [
    ("cancelled", "stopped by the user; the last good model is R/model.safetensors (epoch 1)",
     "Stopped by the user; the last good model is R/model.safetensors (epoch 1)."),
    ("failed", "training failed: boom; no model was saved",
     "Training failed: boom; no model was saved."),
    ("early-stopped", "", "Model saved in R."),
])
def test_every_ending_says_its_best_epoch_and_where_the_model_is(status, message, where):
    from transfer_gui.core import ended_line

    line = ended_line(FitEnded(status, 4, 2, 0.5, 0.7, 3.0, "R", message))
    assert "after 4 epochs in 3\u00a0s; best validation accuracy 50.0% (epoch 2). " in line
    assert line.endswith(" " + where)


@pytest.mark.gui
def test_the_window_and_the_command_line_say_the_same_for_the_same_events(qtbot, monkeypatch):
    from transfer_gui.ui.pages.train_page import TrainPage
    from transfer_gui.ui.state import AppState

    page = TrainPage(AppState())
    qtbot.addWidget(page)
    monkeypatch.setattr(page.plots, "replay", lambda run: None)  # a resumed run's curves
    page._on_events(EVENTS)
    shown = page.log.toPlainText().splitlines()  # (the log gives non-breaking spaces as spaces)
    assert shown == [line.replace("\u00a0", " ") for line in cli_lines(EVENTS)]
    assert shown[-1].startswith("Finished after 3 epochs in 1 min 15 s (resumed after epoch 1); "
                                "best validation accuracy 88.9% (epoch 1). Fine-tuning did not "
                                "improve on the frozen probe: kept the probe.")
    assert shown[-1].endswith("Model saved in /runs/first.")
    status = page.status.text().replace("\u00a0", " ")
    assert status == shown[-1].removesuffix(" Model saved in /runs/first.")


def test_strategy_names_are_declared_once_with_the_setting():
    from transfer_gui.core import ModelConfig, option_named

    assert option_named(ModelConfig, "strategy").choices == STRATEGY_NAMES
    assert all(STRATEGY_NAMES.values())
    package = Path(__file__).resolve().parents[1] / "transfer_gui"
    spelled = [f"{path.relative_to(package)}: {name}" for path in package.rglob("*.py")
               for name in STRATEGY_NAMES.values()
               if path.name != "config.py" and f'"{name}"' in path.read_text()]
    assert spelled == []


def test_exit_codes_are_defined_once():
    from transfer_gui.cli import exits

    cli = Path(__file__).resolve().parents[1] / "transfer_gui" / "cli"
    for path in cli.glob("*.py"):
        text = path.read_text()
        if path.name != "exits.py":
            assert not re.search(r"^EXIT_\w+\s*[,=]", text, re.M), path.name  # no definition
            assert not re.search(r"return (0|1|2|130)\b", text), path.name
    assert (exits.for_run("completed"), exits.for_run("early-stopped")) == (exits.EXIT_OK,) * 2
    assert exits.for_run("cancelled") == exits.EXIT_CANCELLED == 130
