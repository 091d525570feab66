"""Step 6, Compare: the project's runs side by side (validation curves overlaid, a table of
scores, time and trainable share), and "Compare strategies" to train several on one split."""

from __future__ import annotations

import dataclasses
import os
import time
from functools import partial
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ...core import RunError, count, run_info, run_revision, runs_folder
from ..state import AppState
from ..widgets.notices.dialogs import show_error
from ..widgets.plots.run_curves import RunCurves, curve_of
from ..widgets.tables.compare_table import CompareTable
from ..widgets.tables.run_style import colour, run_label, swatch
from ..worker import Job, start_job
from .common import page_title
from .compare_runner import StrategyComparison
from .strategies_dialog import COMPARE_EPOCHS, StrategiesDialog

RUN_ROLE = Qt.ItemDataRole.UserRole
CHECKED_AT_FIRST = 6  # a project's newest runs are compared when it first opens
UNTICKED = "compare_unticked"  # the project's runs the user unticked, kept with the project


class ComparePage(QWidget):
    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.summaries: dict[str, dict[str, Any]] = {}  # run folder -> run_summary
        self.partial: dict[str, dict[str, Any]] = {}  # not evaluated yet (being compared)
        self._revisions: dict[str, tuple[int, int]] = {}  # run -> run_revision summarised
        self.summary_task: Job | None = None
        self.comparison = StrategyComparison(self)
        self.strategies_dialog: StrategiesDialog | None = None
        self._comparing: set[str] = set()
        self._build()
        self._connect()

    # --- layout -----------------------------------------------------------------------------

    def _build(self) -> None:
        self.compare_button = QPushButton("Compare strategies…")
        self.compare_button.setObjectName("primary")
        self.compare_button.setToolTip("Train several strategies on the same split with the "
                                       "same budget, and compare them here")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.add_button = QPushButton("Add run folder…")
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setRange(0, 1000)
        self.progress.setVisible(False)
        self.status = QLabel("")
        self.status.setObjectName("trainStatus")
        self.status.setWordWrap(True)  # a long status must not widen the window
        top = QHBoxLayout()
        top.addWidget(self.compare_button)
        top.addWidget(self.stop_button)
        top.addWidget(self.add_button)
        top.addWidget(self.status, 1)
        top.addWidget(self.progress, 1)
        self.run_list = QListWidget()
        self.run_list.setToolTip("Tick the runs to compare")
        self.run_list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.run_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.hint = QLabel("No runs yet. Train a model on the Train page, or press "
                           "“Compare strategies…” to train several on your data.")
        self.hint.setWordWrap(True)
        self.hint.setObjectName("pageSubtitle")
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(QLabel("Runs of this project"))
        column.addWidget(self.run_list, 1)
        column.addWidget(self.hint)
        self.curves = RunCurves()
        self.table = CompareTable()
        upper = QSplitter()
        upper.addWidget(left)
        upper.addWidget(self.curves)
        upper.setStretchFactor(1, 1)
        upper.setSizes([230, 870])
        split = QSplitter(Qt.Orientation.Vertical)  # the table gets the whole width
        split.addWidget(upper)
        split.addWidget(self.table)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([380, 240])
        layout = QVBoxLayout(self)
        layout.addWidget(page_title("Compare", "Does pretraining help on your data, and how "
                                               "much should you unfreeze? Tick runs to put "
                                               "them side by side; double-click a row to "
                                               "evaluate or use that run."))
        layout.addLayout(top)
        layout.addWidget(split, 1)

    def _connect(self) -> None:
        self.compare_button.clicked.connect(self.compare_strategies)
        self.stop_button.clicked.connect(self.stop)
        self.add_button.clicked.connect(self._on_add_clicked)
        self.run_list.itemChanged.connect(self._on_run_item_changed)
        self.table.run_activated.connect(self._on_run_activated)
        self.comparison.progressed.connect(self._on_comparison_progressed)
        self.comparison.run_finished.connect(self._on_comparison_run_finished)
        self.comparison.finished.connect(self._on_comparison_finished)
        self.comparison.failed.connect(self._on_comparison_failed)
        self.comparison.done.connect(self._on_comparison_done)
        self.state.runs_changed.connect(self._on_runs_changed)
        self.state.run_updated.connect(self._on_run_updated)
        self.state.project_loaded.connect(self._on_project_loaded)
        self.state.busy_changed.connect(self._on_busy_changed)

    # --- the list of runs -------------------------------------------------------------------

    def runs(self) -> list[str]:
        return [self.run_list.item(i).data(RUN_ROLE) for i in range(self.run_list.count())]

    def checked_runs(self) -> list[str]:
        items = (self.run_list.item(i) for i in range(self.run_list.count()))
        return [i.data(RUN_ROLE) for i in items if i.checkState() == Qt.CheckState.Checked]

    def set_checked(self, run: str, checked: bool) -> None:
        for i in range(self.run_list.count()):
            item = self.run_list.item(i)
            if item.data(RUN_ROLE) == run:
                item.setCheckState(Qt.CheckState.Checked if checked else
                                   Qt.CheckState.Unchecked)

    @Slot()
    def _on_project_loaded(self) -> None:
        self.summaries.clear()
        self._revisions.clear()
        self.partial.clear()
        self.run_list.clear()
        self._on_runs_changed()

    @Slot()
    def _on_runs_changed(self) -> None:
        """Add the project's new runs to the list (checked, or the newest few of a project
        that just opened)."""
        known = set(self.runs())
        new = [r for r in self.state.project.runs if r not in known]
        first = not known
        unticked = self.state.project.extra.get(UNTICKED)  # as the project was saved
        self.run_list.blockSignals(True)
        for n, run in enumerate(new):
            if first and isinstance(unticked, list):
                checked = run not in unticked
            else:
                checked = not first or n >= len(new) - CHECKED_AT_FIRST
            self._add_item(run, checked)
        self.run_list.blockSignals(False)
        self.hint.setVisible(self.run_list.count() == 0)
        self._refresh()

    def _add_item(self, run: str, checked: bool) -> None:
        item = QListWidgetItem(swatch(colour(self.run_list.count())), run_label(run))
        item.setData(RUN_ROLE, run)
        item.setToolTip(run)
        if os.path.isdir(run):
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        else:
            item.setText(f"{run_label(run)} (missing)")
            item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
        self.run_list.addItem(item)

    @Slot(str)
    def _on_run_updated(self, run: str) -> None:
        """A run was trained again (resumed): its row and curves are read again."""
        self._forget([run])

    def _forget(self, runs: list[str]) -> None:
        for run in runs:
            self.summaries.pop(run, None)
            self._revisions.pop(run, None)
        if runs:
            self._refresh()

    def showEvent(self, event: QShowEvent) -> None:
        """Runs changed elsewhere (the command line resumed one) are read again when shown."""
        super().showEvent(event)
        self._forget([r for r, rev in self._revisions.items()
                      if r not in self._comparing and run_revision(r) != rev])

    @Slot(QListWidgetItem)
    def _on_run_item_changed(self, _item: QListWidgetItem) -> None:
        ticked = set(self.checked_runs())
        self.state.set_extra(UNTICKED, [r for r in self.runs() if r not in ticked])
        self._refresh()

    @Slot()
    def _on_add_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a run folder",
                                                  os.path.expanduser("~"))
        if folder:
            self.add_run(folder)

    def add_run(self, folder: str) -> bool:
        try:
            run_info(folder)
        except RunError as exc:
            show_error(self, "Not a trained run", str(exc))
            return False
        if folder in self.runs():
            self.set_checked(folder, True)
        else:
            self.state.add_runs([folder])
        return True

    @Slot(str)
    def _on_run_activated(self, run: str) -> None:
        if not self.state.training:
            self.state.set_run(run)
            self.state.status_message.emit(f"Current run: {run_label(run)} (Evaluate and "
                                           "Predict use it)")

    # --- the view ---------------------------------------------------------------------------

    def summary(self, run: str) -> dict[str, Any] | None:
        return self.summaries.get(run) or self.partial.get(run)

    def _refresh(self) -> None:
        self._draw()
        self._summarise_next()

    def _draw(self) -> None:
        runs = self.runs()
        rows, curves = [], []
        for run in self.checked_runs():
            tint = colour(runs.index(run))
            summary = self.summary(run)
            rows.append((run, summary, tint))
            if summary is not None:
                curves.append(curve_of(run, run_label(run), tint, summary.get("history", [])))
        self.table.set_rows(rows)
        self.curves.set_curves(curves)

    def _summarise_next(self) -> None:
        """Summarise (and the first time, evaluate) the checked runs one at a time."""
        if self.state.closing or (self.summary_task is not None and self.summary_task.running):
            return
        todo = [r for r in self.checked_runs()
                if r not in self.summaries and r not in self._comparing]
        if not todo:
            return
        run = todo[0]
        revision = self._revisions[run] = run_revision(run)  # before reading: a later write
        self.status.setText(f"Reading {run_label(run)} ({len(todo)} to go)…")
        task = start_job(partial(_summarise, run), "summary", self)
        task.succeeded.connect(partial(self._on_summary_succeeded, run, revision))
        task.failed.connect(partial(self._on_summary_failed, run, revision))
        task.done.connect(self._on_summary_done)
        self.summary_task = task

    def _on_summary_succeeded(self, run: str, revision: tuple, summary: object) -> None:
        if isinstance(summary, dict) and self._revisions.get(run) == revision:  # else: read again
            self.summaries[run] = summary
            self._draw()

    def _on_summary_failed(self, run: str, revision: tuple, message: str, _details: str) -> None:
        if self._revisions.get(run) == revision:
            self.summaries[run] = {"run": run, "error": message}
            self._draw()

    @Slot()
    def _on_summary_done(self) -> None:
        if not self.comparison.running:
            self.status.setText("")
        self._summarise_next()

    # --- comparing strategies ---------------------------------------------------------------

    @Slot()
    def compare_strategies(self) -> None:
        problem = self.state.training_problem()
        if problem:
            show_error(self, "Cannot compare strategies", problem)
            return
        if self.strategies_dialog is None:
            self.strategies_dialog = StrategiesDialog(self)
            self.strategies_dialog.accepted.connect(self._on_strategies_accepted)
        self.strategies_dialog.epochs.setValue(self.state.config.train.epochs or COMPARE_EPOCHS)
        self.strategies_dialog.open()

    @Slot()
    def _on_strategies_accepted(self) -> None:
        dialog = self.strategies_dialog
        if dialog is None or self.state.training_problem():
            return
        train = dataclasses.replace(self.state.config.train, epochs=dialog.epochs.value())
        config = dataclasses.replace(self.state.config, train=train)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = runs_folder(self.state.project) / f"{stamp}-compare"
        self.comparison.start(config, dialog.strategies(), out, self.state.scan)
        self.compare_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.status.setText("Preparing…")
        self.state.set_training(True)

    @Slot()
    def stop(self) -> None:
        if self.comparison.running:
            self.comparison.stop()
            self.stop_button.setEnabled(False)
            self.status.setText("Stopping after the current batch…")

    @property
    def running(self) -> bool:
        return self.comparison.running

    @Slot(float, str)
    def _on_comparison_progressed(self, fraction: float, text: str) -> None:
        self.progress.setValue(round(1000 * fraction))
        if self.stop_button.isEnabled():
            self.status.setText(text)

    @Slot(str)
    def _on_comparison_run_finished(self, run: str) -> None:
        """The run joins the list at once with its curves; its scores follow when the
        comparison has evaluated it."""
        self._comparing.add(run)
        try:
            from ...core import run_summary

            summary = run_summary(run, evaluate=False)  # run.json only: fast
            self.partial[run] = {**summary, "pending": True}
        except RunError:
            pass
        self.state.add_runs([run])

    @Slot(list)
    def _on_comparison_finished(self, rows: list) -> None:
        for row in rows:
            self.summaries[row["run"]] = row
            self._revisions[row["run"]] = run_revision(row["run"])
        if rows:
            best = max(rows, key=lambda r: r.get("best_val_acc") or 0.0)
            self.state.status_message.emit(
                f"Compared {count(len(rows), 'strategy')}; best: {run_label(best['run'])}")

    @Slot(str, str)
    def _on_comparison_failed(self, message: str, details: str) -> None:
        show_error(self, "The comparison failed", message, details)

    @Slot()
    def _on_comparison_done(self) -> None:
        self._comparing.clear()
        self.partial.clear()
        self.progress.setVisible(False)
        self.compare_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        self.status.setText("")
        self.state.set_training(False)
        self._refresh()

    @Slot(bool)
    def _on_busy_changed(self, busy: bool) -> None:
        if not self.comparison.running:
            self.compare_button.setEnabled(not busy)


def _summarise(run: str, callbacks: list, cancel: Any) -> dict[str, Any] | None:
    from ...core import run_summary

    summary = run_summary(run, callbacks=callbacks, cancel=cancel)
    return None if cancel.cancelled else summary
