"""File > Watch run…: a window follows a run folder as its events.jsonl grows, draws the same
curves as the live Train page, and the ended run becomes the current run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from gui_helpers import wait_until
from transfer_gui.core import load_run_config, read_events
from transfer_gui.core.events import (
    BatchEnded,
    EpochEnded,
    FitEnded,
    FitStarted,
    Recorder,
    to_dict,
)
from transfer_gui.core.io.eventlog import EVENTS
from transfer_gui.core.models.backbones import get_spec
from transfer_gui.ui.pages.train_page import TrainPage
from transfer_gui.ui.pages.watch import view as watch
from transfer_gui.ui.pages.watch.view import WatchView
from transfer_gui.ui.state import AppState

pytestmark = pytest.mark.gui
ROOT = Path(__file__).resolve().parent.parent


def _curves(plots) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(s.x[:s.n].copy(), s.y[:s.n].copy()) for s in plots.series]


def _same_curves(a, b) -> bool:
    return all(np.array_equal(xa, xb) and np.allclose(ya, yb, equal_nan=True, rtol=0, atol=0)
               for (xa, ya), (xb, yb) in zip(_curves(a), _curves(b), strict=True))


@pytest.fixture()
def trained(probe_run, probe_run_template) -> tuple[Path, Recorder]:
    """A run of 2 epochs (trained once, this test's copy) and every event it sent."""
    return probe_run, probe_run_template[1]


def test_the_watch_view_draws_what_the_live_run_drew(qtbot, trained, tmp_path, monkeypatch):
    """The file written in steps (a line torn at each step) while the view polls: at each
    step the view shows what is on disk; at the end its curves are the live page's."""
    run, recorder = trained
    on_disk = read_events(run)  # every event the live run sent, in its order
    assert [to_dict(e) for e in on_disk] == [to_dict(e) for e in recorder.events]
    assert {FitStarted, BatchEnded, EpochEnded, FitEnded} <= {type(e) for e in on_disk}
    page = TrainPage(AppState())  # the live run, as the Train page drew it
    qtbot.addWidget(page)
    page._on_events(recorder.events)
    lines = (run / EVENTS).read_text().splitlines(keepends=True)
    folder = tmp_path / "watched"
    shutil.copytree(run, folder, ignore=shutil.ignore_patterns(EVENTS))
    (folder / EVENTS).touch()  # the writer's first moment: run.json, then an empty log
    monkeypatch.setattr(watch, "POLL_MS", 20)
    state = AppState()
    view = WatchView(state, str(folder))
    qtbot.addWidget(view)
    assert view.plots.step_raw.n == 0 and "Waiting for events.jsonl" in view.status.text()
    written = 0
    for part in np.array_split(np.arange(len(lines)), 4):
        chunk = "".join(lines[i] for i in part)
        with open(folder / EVENTS, "a", encoding="utf-8") as f:
            f.write(chunk[:-7])  # the last line torn
        written += len(part)
        on_disk = read_events(folder)  # the complete lines only
        steps = sum(isinstance(e, BatchEnded) for e in on_disk)
        wait_until(qtbot, lambda s=steps: view.plots.step_raw.n == s, 10)
        assert len(on_disk) == written - 1
        assert view.plots.train_acc.n == sum(isinstance(e, EpochEnded) for e in on_disk)
        if steps:
            last = [e for e in on_disk if isinstance(e, BatchEnded)][-1]
            assert view.progress.value() == (last.epoch - 1) * last.steps_per_epoch + last.batch
        with open(folder / EVENTS, "a", encoding="utf-8") as f:
            f.write(chunk[-7:])
    wait_until(qtbot, lambda: state.run_dir == os.path.normpath(folder), 10)
    assert _same_curves(view.plots, page.plots)
    assert view.log.toPlainText() == page.log.toPlainText()
    assert all(b.isEnabled() for b in view.step_buttons)


def test_a_finished_run_without_events_shows_its_record(qtbot, trained, tmp_path):
    """A run folder from an earlier release: no events.jsonl, its record drawn."""
    run, recorder = trained
    folder = tmp_path / "older"
    shutil.copytree(run, folder, ignore=shutil.ignore_patterns(EVENTS))
    state = AppState()
    view = WatchView(state, str(folder))
    qtbot.addWidget(view)
    assert view.plots.train_acc.n == len(recorder.of(EpochEnded)) == 2
    assert view.plots.step_raw.n == len(recorder.of(BatchEnded))
    assert "earlier release" in view.status.text()
    assert state.run_dir == os.path.normpath(folder)
    assert all(b.isEnabled() for b in view.step_buttons)


def test_watch_follows_a_command_line_run_and_it_becomes_the_current_run(
        window, qtbot, shapes_dir, tmp_path, monkeypatch):
    run = tmp_path / "cli-run"
    monkeypatch.setattr(watch, "POLL_MS", 50)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(run))
    child = cli_writer(shapes_dir, run, epochs=2)
    try:
        action = next(a for a in window.menuBar().actions()[0].menu().actions()
                      if a.text() == "&Watch run…")
        action.trigger()
        view = window.findChild(WatchView)
        seen: set[int] = set()  # the step points the view had at each poll while it ran
        view.timer.timeout.connect(lambda: seen.add(view.plots.step_raw.n))
        wait_until(qtbot, lambda: view.live.ended is not None, 240)
    finally:
        child.wait(timeout=240)
    assert child.returncode == 0
    assert len(seen - {0}) >= 2  # it drew the run while it was being written
    assert window.state.run_dir == os.path.normpath(run)
    reference = TrainPage(AppState())  # the file's events, drawn as the live page draws them
    qtbot.addWidget(reference)
    reference._on_events(read_events(run))
    assert _same_curves(view.plots, reference.plots)
    assert view.live.ended.status == "completed"
    qtbot.mouseClick(view.step_buttons[0], Qt.MouseButton.LeftButton)
    assert window.stack.currentIndex() == 3
    view.close()


def test_export_run_configuration_writes_what_train_config_reads(window, tmp_path,
                                                                 monkeypatch):
    path = tmp_path / "setup.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    action = next(a for a in window.menuBar().actions()[0].menu().actions()
                  if a.text() == "Export run &configuration…")
    action.trigger()
    assert load_run_config(path) == window.state.config


def test_watch_says_a_killed_run_stopped_and_drops_its_time_left(
        window, qtbot, shapes_dir, tmp_path, monkeypatch):
    """`kill -9` of the command-line writer: run.json still says running, but the view sees
    that nothing holds the folder and says the run stopped, without a time left."""
    import signal

    run = tmp_path / "killed"
    monkeypatch.setattr(watch, "POLL_MS", 50)
    child = cli_writer(shapes_dir, run, epochs=40)
    try:
        wait_until(qtbot, lambda: (run / EVENTS).is_file(), 120)
        view = window.watch_run(str(run))
        wait_until(qtbot, lambda: view.plots.step_raw.n >= 3, 120)
        assert " left" in view.status.text()  # a live run: its time left
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=60)
    assert json.loads((run / "run.json").read_text())["status"] == "running"
    wait_until(qtbot, lambda: view._said_ended == "interrupted", 30)
    text = view.status.text()
    assert "stopped without finishing" in text and " left" not in text
    assert f"train --resume {os.path.normpath(run)}" in text
    assert "ended (interrupted)" in view.where.text()
    assert view.live.clock.remaining() is None
    assert window.state.run_dir == os.path.normpath(run)
    view.close()


def cli_writer(data: Path, run: Path, epochs: int) -> subprocess.Popen:
    """`transfer-gui train` in another process (the test backbone, a full fine-tune)."""
    tiny = Path(get_spec("tiny_cnn").bundled()).parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    return subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "trainchild.py"), str(tiny), "train",
         str(data), "--out", str(run), "--backbone", "tiny_cnn", "--strategy", "full",
         "--no-probe-first", "--epochs", str(epochs), "--batch-size", "8"],
        stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=env)
