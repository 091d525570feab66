"""Step 1, Data: choose or drop a folder; classes, thumbnails, problems and the split."""

from __future__ import annotations

import dataclasses
import html
import os
from functools import partial

from PySide6.QtCore import Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...core import (
    DataConfig,
    FolderScan,
    count,
    csv_file,
    option_named,
    training_split,
    untrainable_reason,
)
from ..state import AppState
from ..widgets.inputs.drop_zone import DropZone
from ..widgets.inputs.option_fields import make_fields, problems_of
from ..widgets.inputs.task_picker import TaskOverview
from ..widgets.notices.banner import Banner, sentence
from ..widgets.notices.dialogs import show_error
from ..widgets.notices.progress import JobProgress
from ..widgets.tables.image_grid import GridItem, ImageGrid
from ..widgets.tables.problem_list import ProblemList
from ..widgets.tables.share_bar import SHARE_ROLE, ShareBar
from ..worker import Job, is_cancelled, start_job
from .common import elide_path, page_title, table_cell
from .image_root import ImageRootRow

SPLIT_SETTINGS = ("val_split", "seed")  # the split's settings the page's form shows


class DataPage(QWidget):
    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.scan_task: Job | None = None
        self._build()
        state.project_loaded.connect(self._on_project_loaded)
        state.data_changed.connect(self._update_summary)  # review decisions: counts at once

    # --- layout -----------------------------------------------------------------------------

    def _build(self) -> None:
        self.folder_label = QLabel("No folder chosen")
        self.folder_label.setObjectName("pathLabel")
        self.choose_button = QPushButton("Choose folder…")
        self.choose_button.clicked.connect(self.choose_folder)
        self.csv_button = QPushButton("Open CSV…")
        self.csv_button.setToolTip("A CSV of image paths and labels: one row per image, one "
                                   "column per task (see the README, Labels from a CSV)")
        self.csv_button.clicked.connect(self.choose_csv)
        self.rescan_button = QPushButton("Rescan")
        self.rescan_button.clicked.connect(self.rescan)
        self.rescan_button.setEnabled(False)
        self.choose_button.setToolTip("A folder with one sub-folder of images per class (or "
                                      "train/ with val/ and/or test/ folders of classes)")
        self.rescan_button.setToolTip("Read the folder again after adding or removing images")
        top = QHBoxLayout()
        top.addWidget(QLabel("Image folder:"))
        top.addWidget(self.folder_label, 1)
        top.addWidget(self.rescan_button)
        top.addWidget(self.choose_button)
        top.addWidget(self.csv_button)
        self.image_root = ImageRootRow()  # a labels CSV's paths read from another folder
        self.image_root.setVisible(False)
        self.image_root.changed.connect(self._on_image_root)
        self.progress = JobProgress()
        self.progress.setVisible(False)
        self.progress.setFormat("checking images… %v / %m")

        self.banner = Banner()  # what is wrong with the folder as a whole
        self.stack = QStackedWidget()
        self.stack.addWidget(self._build_empty())
        self.stack.addWidget(self._build_content())
        layout = QVBoxLayout(self)
        layout.addWidget(page_title("Data", "A folder with one sub-folder per class "
                                            "(or train/ with val/ and/or test/ folders of "
                                            "classes)."))
        layout.addLayout(top)
        layout.addWidget(self.image_root)
        layout.addWidget(self.progress)
        layout.addWidget(self.banner)
        layout.addWidget(self.stack, 1)

    def _build_empty(self) -> QWidget:
        self.drop_zone = DropZone("Drop a folder of images here\n\none sub-folder per class, "
                                  "for example  photos/cats/…  and  photos/dogs/…")
        self.drop_zone.dropped.connect(self._on_paths_dropped)
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.addStretch(1)
        layout.addWidget(self.drop_zone)
        layout.addStretch(2)
        return box

    def _build_content(self) -> QWidget:
        self.class_table = QTableWidget(0, 3)
        self.class_table.setHorizontalHeaderLabels(["Class", "Images", "Share"])
        self.class_table.verticalHeader().setVisible(False)
        self.class_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.class_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.class_table.setItemDelegateForColumn(2, ShareBar(self.class_table))
        header = self.class_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(2, 170)
        self.class_table.itemSelectionChanged.connect(self._on_class_selected)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.layout_label = QLabel()  # which layout the folder was read as
        self.layout_label.setWordWrap(True)
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.layout_label)
        column.addWidget(self.class_table, 1)
        column.addWidget(self.summary)
        column.addWidget(self._build_split())

        self.grid = ImageGrid()
        self.grid.activated_path.connect(self._on_file_activated)
        self.class_filter = QComboBox()
        self.class_filter.setToolTip("Show the images of one class, or of all")
        self.class_filter.currentIndexChanged.connect(self._fill_grid)
        images = QWidget()
        images_layout = QVBoxLayout(images)
        filter_row = QHBoxLayout()
        filter_row.addWidget(QLabel("Show:"))
        filter_row.addWidget(self.class_filter, 1)
        images_layout.addLayout(filter_row)
        images_layout.addWidget(self.grid, 1)
        self.problems = ProblemList()
        self.problem_table = self.problems.table
        self.problem_table.cellDoubleClicked.connect(self._on_problem_activated)
        self.tabs = QTabWidget()
        self.tabs.addTab(images, "Images")
        self.tabs.addTab(self.problems, "Problems")
        self.task_overview = TaskOverview()  # a labels CSV's tasks, one at a time
        self.tasks_tab = self.tabs.addTab(self.task_overview, "Tasks")
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([420, 640])
        return splitter

    def _build_split(self) -> QGroupBox:
        box = QGroupBox("Validation split")
        form = QFormLayout(box)
        self.split_fields = make_fields(tuple(option_named(DataConfig, name)
                                              for name in SPLIT_SETTINGS))
        for field in self.split_fields.values():
            field.place(form)
            field.changed.connect(self._on_split_edited)
        self.val_share = self.split_fields["val_split"].widget
        self.seed = self.split_fields["seed"].widget
        self.own_split = QCheckBox("Use the folder's own train/ and val/ split")
        self.own_split.setEnabled(False)
        self.own_split.toggled.connect(self._on_split_edited)
        self.own_split.setToolTip("The folder has train/ and val/ sub-folders: use them "
                                  "instead of a random split")
        form.addRow(self.own_split)
        return box

    # --- actions ----------------------------------------------------------------------------

    @Slot()
    def choose_folder(self) -> None:
        start = self.state.config.data.root or os.path.expanduser("~")
        folder = QFileDialog.getExistingDirectory(self, "Choose an image folder", start)
        if folder:
            self.open_folder(folder)

    @Slot()
    def choose_csv(self) -> None:
        start = self.state.config.data.root or os.path.expanduser("~")
        path, _ = QFileDialog.getOpenFileName(self, "Open a labels CSV", start,
                                              "CSV files (*.csv)")
        if path:
            self.open_folder(path)

    @Slot(list)
    def _on_paths_dropped(self, paths: list[str]) -> None:
        folders = [p for p in paths if os.path.isdir(p) or p.lower().endswith(".csv")]
        if folders:
            self.open_folder(folders[0])
        else:
            show_error(self, "Not a folder", "Drop a folder of images (one sub-folder per "
                                             "class), not single files.")

    def open_folder(self, folder: str) -> None:
        # the review decisions stay with the folder they were made on (see Project.data_on)
        root = os.path.abspath(folder)
        moved = root != self.state.config.data.root  # an image root belongs to its CSV too
        data = self.state.project.data_on(root)
        self.state.set_data(dataclasses.replace(data, val_dir=None,
                                                image_root=None if moved else data.image_root))
        self.rescan()

    @Slot(str)
    def _on_image_root(self, root: str) -> None:
        self.state.set_data(dataclasses.replace(self.state.config.data, image_root=root or None))
        self.rescan()

    @Slot()
    def rescan(self) -> None:
        root = self.state.config.data.root
        if not root:
            return
        if self.scan_task is not None and self.scan_task.running:
            self.scan_task.cancel()
        self.folder_label.setText(elide_path(root))
        self.folder_label.setToolTip(root)
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self.rescan_button.setEnabled(False)
        data = self.state.config.data
        self.image_root.setVisible(csv_file(root) is not None)
        self.image_root.set_root(data.image_root)
        task = start_job(partial(_scan, root, data.val_dir, data.task, data.image_root),
                          "scan", self)
        task.events.connect(self.progress.on_events)
        task.succeeded.connect(partial(self._on_scanned, task))
        task.failed.connect(partial(self._on_scan_failed, task))
        self.scan_task = task

    def _on_scanned(self, task: Job, scan: FolderScan) -> None:
        if task is not self.scan_task:
            return  # an older scan finished after a newer one started
        self.progress.setVisible(False)
        self.rescan_button.setEnabled(True)
        self.state.set_scan(scan)
        self._show_scan(scan)

    def _on_scan_failed(self, task: Job, message: str, details: str) -> None:
        if task is not self.scan_task:
            return
        self.progress.setVisible(False)
        self.rescan_button.setEnabled(True)
        if not is_cancelled(task.error):  # (not a word in the traceback: a file may say it)
            show_error(self, "Cannot read the folder", message, details)

    # --- showing a scan ---------------------------------------------------------------------

    def _show_scan(self, scan: FolderScan) -> None:
        self.stack.setCurrentIndex(1)
        counts = scan.counts()
        total = max(sum(counts), 1)
        self.class_table.setRowCount(len(scan.classes))
        for row, (name, n) in enumerate(zip(scan.classes, counts, strict=True)):
            self.class_table.setItem(row, 0, QTableWidgetItem(name))
            self.class_table.setItem(row, 1, table_cell(str(n), align_right=True))
            share = QTableWidgetItem()
            share.setData(SHARE_ROLE, n / total)
            self.class_table.setItem(row, 2, share)
        self.class_filter.blockSignals(True)
        self.class_filter.clear()
        self.class_filter.addItem(f"All classes ({sum(counts)})")
        for name, n in zip(scan.classes, counts, strict=True):
            self.class_filter.addItem(f"{name} ({n})")
        self.class_filter.blockSignals(False)
        self.layout_label.setText(f"<b>Layout:</b> {html.escape(scan.layout_text())}")
        self.layout_label.setToolTip(scan.test_dir)
        self.own_split.setEnabled(scan.layout == "train-val")
        self.own_split.blockSignals(True)
        self.own_split.setChecked(scan.layout == "train-val" and
                                  self.state.config.data.folder_split)
        self.own_split.blockSignals(False)
        self._on_split_edited()
        self._fill_grid()
        self._fill_problems(scan)
        self._update_summary()
        self.task_overview.show_scan(scan)
        first = f"Class ({scan.tasks[0].name})" if scan.tasks else "Class"  # the split's task
        self.class_table.setHorizontalHeaderLabels([first, "Images", "Share"])
        self.tabs.setTabVisible(self.tasks_tab, bool(scan.tasks))

    @Slot()
    def _fill_grid(self) -> None:
        scan = self.state.scan
        if scan is None:
            return
        wanted = self.class_filter.currentIndex() - 1
        items = [GridItem(s.path, os.path.basename(s.path),
                          f"{scan.classes[s.label]}\n{s.path}")
                 for s in scan.samples if wanted < 0 or s.label == wanted]
        self.grid.set_items(items)

    def _fill_problems(self, scan: FolderScan) -> None:
        self.problems.show_scan(scan)
        problems = scan.problems
        errors = sum(p.severity == "error" for p in problems)
        label = f"Problems ({len(problems)})" if problems else "Problems"
        self.tabs.setTabText(1, label)
        self.tabs.setTabToolTip(1, f"{count(errors, 'file')} skipped, "
                                   f"{count(len(problems) - errors, 'warning')}")
        # the folder as a whole (no class folders, imbalance): too important for a table cell
        whole = [p for p in problems if p.path == scan.root]
        kind = "error" if any(p.severity == "error" for p in whole) else "warning"
        text = " ".join(sentence(p.reason) for p in whole)
        if scan.layout == "csv" and (reason := untrainable_reason(scan)):
            text, kind = sentence(reason), "error"  # in the words of train and check-data
        self.banner.show_message(text, kind)

    @Slot()
    def _on_split_edited(self) -> None:
        own = self.own_split.isChecked() or not self.own_split.isEnabled()
        self.val_share.setEnabled(not (self.own_split.isEnabled() and own))
        values, problems = problems_of(self.split_fields)
        for name, field in self.split_fields.items():
            field.show_problem(problems.get(name))
        if problems:  # the last valid split is kept meanwhile
            return
        self.state.set_data(dataclasses.replace(self.state.config.data, **values,
                                                folder_split=own))
        self._update_summary()

    def _update_summary(self) -> None:
        scan = self.state.scan
        if scan is None:
            self.summary.setText("")
            return
        data = self.state.config.data
        train, val = training_split(scan, data.val_split, data.seed, data.folder_split,
                                    data.exclude, data.relabel)
        n_train, n_val = len(train), len(val)
        errors = sum(p.severity == "error" for p in scan.problems)
        skipped = f" · {count(errors, 'file')} skipped (see Problems)" if errors else ""
        left_out = len(scan.samples) - n_train - n_val
        if left_out or data.relabel:
            skipped += (f" · review: {left_out} left out, {len(data.relabel)} relabelled "
                        "(Run ▸ Know your data)")
        self.summary.setText(f"<b>{count(len(scan.classes), 'class')}</b> · {n_train} training · "
                             f"{count(n_val, 'validation image')}{skipped}")

    @Slot()
    def _on_class_selected(self) -> None:
        rows = {i.row() for i in self.class_table.selectedIndexes()}
        if len(rows) == 1:
            self.class_filter.setCurrentIndex(rows.pop() + 1)

    @Slot(str)
    def _on_file_activated(self, path: str) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(path))

    @Slot(int, int)
    def _on_problem_activated(self, row: int, _column: int) -> None:
        item = self.problem_table.item(row, 0)
        if item is None:
            return
        path = item.data(Qt.ItemDataRole.UserRole)
        target = path if os.path.isdir(path) else os.path.dirname(path)
        QDesktopServices.openUrl(QUrl.fromLocalFile(target))

    # --- project ----------------------------------------------------------------------------

    @Slot()
    def _on_project_loaded(self) -> None:
        data = self.state.config.data
        for field in self.split_fields.values():
            field.set_values(data)
            field.show_problem(None)
        if data.root and os.path.exists(data.root):
            self.rescan()
        else:
            self.stack.setCurrentIndex(0)
            self.banner.clear_message()
            self.folder_label.setText(f"{data.root} (not found)" if data.root
                                      else "No folder chosen")
            self.state.set_scan(None)


def _scan(root: str, val_dir: str | None, column: str | None, image_root: str | None,
          callbacks: list, cancel) -> FolderScan:
    from ...core import scan_data

    return scan_data(root, verify=True, val_dir=val_dir, callbacks=callbacks, cancel=cancel,
                     task=column, image_root=image_root)
