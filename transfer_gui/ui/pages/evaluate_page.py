"""Step 4, Evaluate: confusion matrix, per-class scores, and the images behind the numbers."""

from __future__ import annotations

import os
from functools import partial
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...core import LabelTable, RunError, count, run_info, run_revision
from ..state import AppState
from ..widgets.inputs.task_picker import TaskPicker
from ..widgets.notices.dialogs import show_error
from ..widgets.notices.progress import JobProgress
from ..widgets.plots.confusion import ConfusionMatrix
from ..widgets.tables.image_grid import GridItem, ImageGrid
from ..worker import Job, is_cancelled, start_job
from .common import page_title, table_cell
from .evaluate_table import COLUMN_TIPS, SINGLE_COLUMNS, set_columns, show_label_table

if TYPE_CHECKING:
    from ...core import CancelToken, Evaluation


HTML_FILTER = "HTML page, the matrix as an image (*.html)"
CSV_FILTER = "CSV table (*.csv)"


def _number(value: float, fmt: str = ".3f") -> QTableWidgetItem:
    return table_cell(format(value, fmt), align_right=True)


class EvaluatePage(QWidget):
    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.task: Job | None = None
        self.evaluation: Any = None  # core.evaluation.Evaluation
        self.shown: Any = None  # the result on view: the evaluation's, or its chosen task's
        self._evaluated: tuple = ()  # (run folder, its revision) shown or being computed
        self.prefix = ""  # "Test folder NAME: " while a test folder's evaluation is shown
        self._build()
        state.run_changed.connect(self._on_run_changed)
        state.scan_changed.connect(self._on_scan_changed)

    def _build(self) -> None:
        self.headline = QLabel("Train a model to evaluate it here.")
        self.headline.setObjectName("headline")
        self.headline.setWordWrap(True)  # "Test folder NAME: …" must not widen the window
        self.source = QLabel("")
        self.source.setObjectName("pageSubtitle")
        self.source.setWordWrap(True)  # long run names must not widen the window
        self.evaluate_button = QPushButton("Evaluate again")
        self.evaluate_button.setEnabled(False)
        self.evaluate_button.setToolTip("Evaluate the current run on its validation split")
        self.evaluate_button.clicked.connect(self.evaluate)
        self.progress = JobProgress()
        self.progress.setVisible(False)
        top = QHBoxLayout()
        text = QVBoxLayout()
        text.addWidget(self.headline)
        text.addWidget(self.source)
        top.addLayout(text, 1)
        top.addWidget(self.evaluate_button)
        self.folder_button = QPushButton("Evaluate on a test folder…")
        self.folder_button.setToolTip("Score the model on another labelled folder (one "
                                      "sub-folder per class, named like the model's classes)")
        self.folder_button.setEnabled(False)
        self.folder_button.clicked.connect(self._on_choose_test_folder)
        top.addWidget(self.folder_button)
        self.csv_button = QPushButton("Evaluate on a CSV…")
        self.csv_button.setToolTip("Score the model on a labels CSV (a path column, then the "
                                   "model's label columns; paths relative to the CSV)")
        self.csv_button.setEnabled(False)
        self.csv_button.clicked.connect(self._on_choose_test_csv)
        top.addWidget(self.csv_button)
        self.test_button = QPushButton("Evaluate on test/")  # the data folder's own test part
        self.test_button.setVisible(False)
        self.test_button.clicked.connect(self.evaluate_test_part)
        top.addWidget(self.test_button)
        self.report_button = QPushButton("Save report…")
        self.report_button.setToolTip("Save the headline, the per-class table and the "
                                      "confusion matrix: as one HTML page (the matrix as an "
                                      "image) or as a CSV table")
        self.report_button.setEnabled(False)
        self.report_button.clicked.connect(self._on_save_report)
        top.addWidget(self.report_button)

        self.matrix = ConfusionMatrix()
        self.matrix.cell_clicked.connect(self._on_cell_clicked)
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["Class", "Precision", "Recall", "F1", "Support"])
        for col, tip in enumerate(COLUMN_TIPS):
            if (header_item := self.table.horizontalHeaderItem(col)) is not None:
                header_item.setToolTip(tip)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, 5):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        upper = QSplitter()
        upper.addWidget(self.matrix)
        upper.addWidget(self.table)
        upper.setSizes([560, 480])

        self.cell_grid = ImageGrid(size=96)
        self.loss_grid = ImageGrid(size=96, caption_lines=2)  # true class, then predicted
        for grid in (self.cell_grid, self.loss_grid):
            grid.activated_path.connect(self._on_open_file)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.loss_grid, "Highest loss")
        self.tabs.addTab(self.cell_grid, "Selected cell")
        lower = QSplitter(Qt.Orientation.Vertical)
        lower.addWidget(upper)
        lower.addWidget(self.tabs)
        lower.setSizes([380, 260])
        layout = QVBoxLayout(self)
        layout.addWidget(page_title("Evaluate", "Scores on the validation images (or on a test "
                                                "folder you choose); click a cell of the "
                                                "matrix to see its images."))
        layout.addLayout(top)
        self.task_picker = TaskPicker()  # a run of several tasks: one at a time
        self.task_picker.task_chosen.connect(self._on_task_chosen)
        layout.addWidget(self.task_picker)
        layout.addWidget(self.progress)
        layout.addWidget(lower, 1)

    # --- running ----------------------------------------------------------------------------

    @Slot(str)
    def _on_run_changed(self, run_dir: str) -> None:
        self.evaluate_button.setEnabled(bool(run_dir))
        self.folder_button.setEnabled(bool(run_dir))
        self.csv_button.setEnabled(bool(run_dir))
        self.test_button.setEnabled(bool(run_dir))
        # keyed on the run's files, not its folder: a resumed run is evaluated again
        fresh = (run_dir, run_revision(run_dir)) if run_dir else ()
        if run_dir and fresh != self._evaluated and not self.state.training \
                and not self.state.closing:
            self.evaluate()

    def showEvent(self, event: QShowEvent) -> None:
        """A run changed elsewhere (resumed from the command line) is evaluated again."""
        super().showEvent(event)
        if self.task is None or not self.task.running:
            self._on_run_changed(self.state.run_dir)

    @Slot()
    def evaluate(self) -> None:
        """The current run on its validation split."""
        run = self.state.run_dir
        if not run:
            return
        self.evaluate_button.setEnabled(False)
        self.prefix = ""
        self._evaluated = (run, run_revision(run))
        task = self._start(partial(_evaluate, run), "Evaluating…")
        task.succeeded.connect(partial(self._on_evaluated, task, run))

    def _start(self, job: partial, headline: str) -> Job:
        """Run `job` in the background in place of any evaluation still running."""
        if self.task is not None and self.task.running:
            self.task.cancel()
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self.headline.setText(headline)
        # the run being evaluated, at once: the figures of the run before are gone
        self.source.setText(f"Run: {_run_text(self.state.run_dir)}")
        self.source.setToolTip("")
        task = start_job(job, "evaluate", self)
        task.events.connect(self.progress.on_events)
        task.failed.connect(partial(self._on_failed, task))
        self.task = task
        return task

    def _on_evaluated(self, task: Job, run: str, evaluation: object) -> None:
        if task is not self.task:
            return
        self.progress.setVisible(False)
        self.evaluate_button.setEnabled(True)
        self.show_evaluation(evaluation)

    def _on_failed(self, task: Job, message: str, details: str) -> None:
        if task is not self.task:
            return
        self.progress.setVisible(False)
        self.evaluate_button.setEnabled(True)  # the key stays: no retry until the run changes
        self.headline.setText("Evaluation failed.")
        if not is_cancelled(task.error):
            show_error(self, "Cannot evaluate", message, details)

    # --- showing ----------------------------------------------------------------------------

    def show_evaluation(self, evaluation) -> None:
        self.evaluation = evaluation
        self.report_button.setEnabled(True)
        self.task_picker.set_tasks(list(evaluation.tasks))
        self._show_result(evaluation.tasks.get(self.task_picker.current(), evaluation.result))

    @Slot(str)
    def _on_task_chosen(self, name: str) -> None:
        if self.evaluation is not None:
            self._show_result(self.evaluation.tasks[name])

    def _show_result(self, result: Any) -> None:
        """One result: a single-label one with its matrix, or a multi-label task's table."""
        self.shown = result
        evaluation = self.evaluation
        if isinstance(result, LabelTable):
            show_label_table(self, result)
            return
        self.matrix.setVisible(True)
        set_columns(self.table, SINGLE_COLUMNS)
        self.headline.setText(self.prefix + f"Accuracy {result.accuracy:.1%} · balanced accuracy "
                              f"{result.balanced_accuracy:.1%} · macro F1 "
                              f"{result.macro_f1:.3f} · "
                              f"{count(int(result.confusion.sum()), 'image')}")
        self.source.setToolTip("")  # a test folder's skipped files belong to that evaluation
        self.source.setText(f"Evaluated on {evaluation.source}. Run: "
                            f"{_run_text(self.state.run_dir)}")
        # the cell selected stays selected in the new matrix of the same classes, its images
        # listed afresh (those of the matrix before would be stale)
        same = self.matrix.classes == list(result.classes)
        kept = self.matrix.selected if same else None
        self.matrix.set_matrix(result.classes, result.confusion)
        rows = result.per_class()
        self.table.setRowCount(len(rows))
        for row, scores in enumerate(rows):
            self.table.setItem(row, 0, QTableWidgetItem(scores["class"]))
            for col, key in enumerate(("precision", "recall", "f1"), start=1):
                self.table.setItem(row, col, _number(scores[key]))
            self.table.setItem(row, 4, _number(scores["support"], "d"))
        classes = result.classes
        self.loss_grid.set_items([
            GridItem(i.path, f"{classes[i.target]}\n→ {classes[i.pred]}",
                     f"true {classes[i.target]}, predicted {classes[i.pred]} "
                     f"({i.confidence:.0%}), loss {i.loss:.2f}\n{i.path}")
            for i in result.top_losses(48)])
        if kept is not None:
            self.matrix.selected = kept
            self._show_cell(*kept)
        else:
            self.cell_grid.set_items([])
            self.tabs.setTabText(1, "Selected cell")

    @Slot(int, int)
    def _on_cell_clicked(self, target: int, pred: int) -> None:
        if self.evaluation is None:
            return
        self._show_cell(target, pred)
        self.tabs.setCurrentIndex(1)

    def _show_cell(self, target: int, pred: int) -> None:
        """List the images of one cell of the matrix shown."""
        result = self.shown
        items = result.cell(target, pred)
        names = result.classes
        self.cell_grid.set_items([
            GridItem(i.path, f"{i.confidence:.0%}", f"true {names[i.target]}, predicted "
                                                    f"{names[i.pred]} ({i.confidence:.0%})\n"
                                                    f"{i.path}")
            for i in items])
        self.tabs.setTabText(1, f"True {names[target]}, predicted {names[pred]} ({len(items)})")

    # --- the report -------------------------------------------------------------------------

    @Slot()
    def _on_save_report(self) -> None:
        if self.evaluation is None:
            return
        name = f"{os.path.basename(self.state.run_dir) or 'evaluation'}-report.html"
        start = os.path.join(os.path.dirname(self.state.run_dir) or os.path.expanduser("~"),
                             name)
        path, chosen = QFileDialog.getSaveFileName(
            self, "Save the evaluation report", start, f"{HTML_FILTER};;{CSV_FILTER}")
        if path:
            if not os.path.splitext(path)[1]:
                path += ".csv" if chosen == CSV_FILTER else ".html"
            self.save_report(path)

    def save_report(self, path: str) -> bool:
        """Write what the page shows to `path` (.html or .csv); False, said, when it cannot."""
        from ...core import USER_ERRORS, write_report

        if self.evaluation is None:
            return False
        try:
            written = write_report(self.evaluation, path, self.state.run_dir)
        except USER_ERRORS as exc:
            show_error(self, "Cannot save the report", f"Could not write {path}: {exc}")
            return False
        self.state.status_message.emit(f"Saved the evaluation report to {written}")
        return True

    @Slot(str)
    def _on_open_file(self, path: str) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(path))

    # --- a separate labelled test folder ----------------------------------------------------

    def _test_part(self) -> str:
        """The data folder's test/ part (train/ beside test/), or ""."""
        scan = self.state.scan
        return scan.test_dir if scan is not None else ""

    @Slot()
    def _on_scan_changed(self) -> None:
        test = self._test_part()
        self.test_button.setVisible(bool(test))
        if test and self.state.scan is not None:
            name = os.path.basename(test)
            self.test_button.setText(f"Evaluate on {name}/")
            self.test_button.setToolTip(
                f"Score the model on the data folder's {name}/ part "
                f"({count(self.state.scan.test_images, 'image')}, never trained on): {test}")

    @Slot()
    def evaluate_test_part(self) -> None:
        test = self._test_part()
        if test:
            self.evaluate_folder(test)

    @Slot()
    def _on_choose_test_folder(self) -> None:
        start = (self._test_part() or os.path.dirname(self.state.config.data.root)
                 or os.path.expanduser("~"))
        folder = QFileDialog.getExistingDirectory(
            self, "Choose a labelled test folder (one sub-folder per class)", start)
        if folder:
            self.evaluate_folder(folder)

    @Slot()
    def _on_choose_test_csv(self) -> None:
        start = os.path.dirname(self.state.config.data.root) or os.path.expanduser("~")
        path, _ = QFileDialog.getOpenFileName(self, "Choose a labels CSV to evaluate on", start,
                                              "CSV files (*.csv)")
        if path:
            self.evaluate_folder(path)

    def evaluate_folder(self, folder: str) -> None:
        """Score the current run on `folder` (its images are matched to classes by name)."""
        run = self.state.run_dir
        if not run:
            return
        self.prefix = ""  # until this folder's result says it is a test folder
        task = self._start(partial(_evaluate, run, folder=folder),
                           f"Evaluating on {os.path.basename(folder)}…")
        task.succeeded.connect(partial(self._on_folder_evaluated, task, run, folder))

    def _on_folder_evaluated(self, task: Job, run: str, folder: str, evaluation) -> None:
        if task is not self.task:
            return
        self._on_evaluated(task, run, evaluation)
        name = os.path.basename(os.path.normpath(folder))
        if not evaluation.source.startswith("the run's validation split"):
            # (the folder the run trained on is scored on its validation split instead); the
            # prefix stays while another task of the run is picked
            self.prefix = f"Test folder {name}: "
            self.headline.setText(self.prefix + self.headline.text())
        skipped = [p for p in evaluation.problems if p.severity == "error"]
        files = sum(p.files for p in skipped)  # a class the model does not know: its images
        note = f" {count(files, 'file')} skipped (hover for why)." if skipped else ""
        self.source.setText(f"{self.source.text()}{note}")
        self.source.setToolTip("\n".join(f"{p.path}: {p.reason}" for p in skipped[:30]))


def _evaluate(run: str, callbacks: list, cancel: CancelToken,
              folder: str | None = None) -> Evaluation:
    """The run's own validation split, as saved with the run, or a labelled `folder`."""
    from ...core import evaluate_run

    return evaluate_run(run, folder, callbacks=callbacks, cancel=cancel)


def _run_text(run: str) -> str:
    """The run's name with its status and epochs, so a resumed run is told from its past."""
    try:
        info = run_info(run)
    except RunError:
        return os.path.basename(run)
    return f"{os.path.basename(run)} ({info.status}, {count(info.epochs_done, 'epoch')})"
