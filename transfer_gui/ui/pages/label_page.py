"""The Label page: label a folder of images by keyboard, with the probe's suggestions.

Keys on the grid: 1-9 give the selected images that class; typing a name then Enter gives
them that class (a new one is created); Enter alone accepts the suggestions; Backspace clears;
Ctrl+Z undoes. After labelling, the selection moves on, so a whole pool is labelled without the
mouse. Every change is written to labels.csv at once (the engine's `LabelPool`); images move
only through "Sort into class folders", after a preview.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ...core import LabelPool, Suggestions, apply_sort
from ..state import AppState
from ..widgets.inputs.flow_layout import FlowLayout
from ..widgets.notices.dialogs import show_error
from ..widgets.tables.label_grid import LabelGrid
from .common import elide_path, page_title
from .label_jobs import Suggester, status_text
from .label_sort import confirm_sort
from .label_writer import LabelWriter

RETRAIN_EVERY = 5  # labels between retrains of the suggestions
IDLE_RETRAIN_MS = 1500  # fewer labels than that, then a pause: retrain too
ALL, UNLABELLED, DISAGREE = "All images", "Unlabelled (label next first)", "Disagreements"


class LabelPage(QWidget):
    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.pool: LabelPool | None = None
        self.suggestions: Suggestions | None = None
        self._since_retrain = 0
        self.suggester = Suggester(self)
        self.suggester.features_ready.connect(self._on_features_ready)
        self.suggester.suggested.connect(self._on_suggested)
        self.suggester.progressed.connect(self._on_progress)
        self.suggester.failed.connect(self._on_failed)
        self.suggester.busy_changed.connect(self._update_status)
        self.idle = QTimer(self)
        self.idle.setSingleShot(True)
        self.idle.setInterval(IDLE_RETRAIN_MS)
        self.idle.timeout.connect(self._retrain)
        self.writer = LabelWriter(self)
        self.writer.failed.connect(self._on_write_failed)
        self._build()

    # --- layout -----------------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.addWidget(page_title("Label", "Label a folder of images with the keyboard: 1-9 "
                                    "or a typed name, Enter takes the suggestion, Backspace "
                                    "clears, Ctrl+Z undoes. Saved to labels.csv at every change."))
        bar = QHBoxLayout()
        self.open_button = QPushButton("Open folder…")
        self.open_button.clicked.connect(self._on_open_clicked)
        self.folder_label = QLabel("No folder open")
        self.folder_label.setObjectName("hint")
        self.folder_label.setMinimumWidth(60)  # a long path shrinks, the buttons stay whole
        self.folder_label.setSizePolicy(QSizePolicy.Policy.Ignored,
                                        QSizePolicy.Policy.Preferred)
        self.filter_box = QComboBox()
        self.filter_box.currentIndexChanged.connect(self._on_filter_changed)
        self.sort_button = QPushButton("Sort into class folders…")
        self.sort_button.clicked.connect(self._on_sort_clicked)
        self.camera_button = QPushButton("Camera…")
        self.camera_button.setToolTip("Record frames into a class from a camera, and see the "
                                      "current model's predictions live")
        self.camera_button.clicked.connect(self.open_camera)
        for w in (self.open_button, self.folder_label):
            bar.addWidget(w)
        bar.setStretch(1, 1)
        bar.addWidget(QLabel("Show"))
        bar.addWidget(self.filter_box)
        bar.addWidget(self.sort_button)
        bar.addWidget(self.camera_button)
        layout.addLayout(bar)
        classes = QWidget()
        self.class_row = FlowLayout(classes)
        self.name_field = QLineEdit()
        self.name_field.setPlaceholderText("type a class name, Enter")
        self.name_field.setMaximumWidth(220)
        self.name_field.returnPressed.connect(self._on_name_entered)
        layout.addWidget(classes)
        self.grid = LabelGrid(self._describe)
        self.grid.key_pressed.connect(self._on_key)
        layout.addWidget(self.grid, 1)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self._update_classes()
        self._update_status()

    # --- opening ----------------------------------------------------------------------------
    @Slot()
    def _on_open_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of images to label")
        if folder:
            self.open_pool(folder)

    def open_pool(self, folder: str, labels_path: str | None = None) -> bool:
        try:
            pool = LabelPool.open(folder, labels_path)
        except Exception as exc:  # noqa: BLE001 - a bad folder is a message, not a crash
            show_error(self, "Cannot label this folder", str(exc))
            return False
        self.writer.flush()
        pool.writer = self.writer
        self.pool, self.suggestions, self._since_retrain = pool, None, 0
        self.folder_label.setText(f"{elide_path(str(pool.root), 60)}  →  {pool.csv_path.name}")
        self.folder_label.setToolTip(str(pool.csv_path))
        self.grid.label_model.classes = pool.classes
        self._update_classes()
        self._refilter(keep_row=0)
        backbone = self.state.config.model.backbone
        self.suggester.load(pool, backbone)
        self._update_status()
        return True

    # --- what a tile shows --------------------------------------------------------------------
    def _describe(self, file: str) -> tuple[str | None, str | None, float]:
        label = self.pool.labels.get(file) if self.pool else None
        s = self.suggestions.by_file.get(file) if self.suggestions else None
        if label is not None and self.suggestions and file in self.suggestions.disagreements:
            return label, self.suggestions.disagreements[file], 0.0
        return label, s.label if s else None, s.confidence if s else 0.0

    def _visible_files(self) -> list[str]:
        if self.pool is None:
            return []
        chosen = self.filter_box.currentText()
        if chosen == UNLABELLED:
            free = self.pool.unlabelled()
            first = [f for f in (self.suggestions.next if self.suggestions else [])
                     if f not in self.pool.labels]
            return first + sorted(set(free) - set(first))
        if chosen == DISAGREE:
            wrong = self.suggestions.disagreements if self.suggestions else {}
            return [f for f in self.pool.labelled() if f in wrong]
        if chosen.startswith("Class: "):
            name = chosen.removeprefix("Class: ")
            return [f for f in self.pool.labelled() if self.pool.labels[f] == name]
        return list(self.pool.files)

    def _refilter(self, keep_row: int | None = None) -> None:
        assert self.pool is not None
        self.grid.label_model.set_files(str(self.pool.root), self._visible_files())
        if keep_row is not None:
            self.grid.select_row(keep_row)

    @Slot(int)
    def _on_filter_changed(self, _index: int) -> None:
        if self.pool is not None:
            self._refilter(keep_row=0)

    # --- labelling --------------------------------------------------------------------------
    @Slot(QKeyEvent)
    def _on_key(self, event: QKeyEvent) -> None:
        key, text = event.key(), event.text()
        ctrl = event.modifiers() & Qt.KeyboardModifier.ControlModifier
        if ctrl and key == Qt.Key.Key_Z:
            self.undo()
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._on_name_entered() if self.name_field.text().strip() else self.accept()
        elif key == Qt.Key.Key_Backspace and self.name_field.text():
            self.name_field.setText(self.name_field.text()[:-1])
        elif key in (Qt.Key.Key_Backspace, Qt.Key.Key_Delete):
            self.label_selection(None)
        elif key == Qt.Key.Key_Escape:
            self.name_field.clear()
        elif text.isdigit() and text != "0" and not self.name_field.text() and self.pool:
            number = int(text)
            if number <= len(self.pool.classes):
                self.label_selection(self.pool.classes[number - 1])
        elif text and text.isprintable() and not ctrl:
            self.name_field.setText(self.name_field.text() + text)

    @Slot()
    def _on_name_entered(self) -> None:
        name = self.name_field.text().strip()
        if name:
            self.label_selection(name)
            self.name_field.clear()
        self.grid.setFocus()

    def label_selection(self, label: str | None) -> None:
        files = self.grid.selected_files()
        if self.pool is None or not files:
            return
        self._edit(lambda: self.pool.set_label(files, label) if self.pool else [], files)

    def accept(self) -> None:
        """Each selected image gets its suggestion (those without one are left alone)."""
        if self.pool is None or self.suggestions is None:
            return
        files = [f for f in self.grid.selected_files() if f not in self.pool.labels]
        by_class: dict[str, list[str]] = {}
        for f in files:
            s = self.suggestions.by_file.get(f)
            if s is not None and s.label:
                by_class.setdefault(s.label, []).append(f)
        for label, group in by_class.items():
            self._edit(partial(self.pool.set_label, group, label), files)

    def undo(self) -> None:
        if self.pool is not None:
            self._edit(self.pool.undo, self.grid.selected_files(), advance=False)

    def _edit(self, change: object, files: list[str], advance: bool = True) -> None:
        rows = [r for r in map(self.grid.label_model.row_of, files) if r is not None]
        try:
            done = change()  # type: ignore[operator]
        except Exception as exc:  # noqa: BLE001 - a refused name or a full disk: a message
            show_error(self, "Label not saved", str(exc))
            return
        if not done:
            return
        self._since_retrain += len(done)
        self._after_edit([c.file for c in done], min(rows) if rows else 0,
                         len(rows) if advance else 0)

    def _shows(self, file: str) -> bool:
        """Whether the current filter shows `file` (for the files an edit touched)."""
        assert self.pool is not None
        chosen, label = self.filter_box.currentText(), self.pool.labels.get(file)
        if chosen == UNLABELLED:
            return label is None
        if chosen == DISAGREE:
            return label is not None and bool(self.suggestions) and \
                file in self.suggestions.disagreements  # type: ignore[union-attr]
        if chosen.startswith("Class: "):
            return label == chosen.removeprefix("Class: ")
        return True

    def _after_edit(self, changed: list[str], first_row: int, step: int) -> None:
        """Update the grid for an edit of `changed`: rows that leave the filter are removed
        (at 20,000 images a full refilter costs tens of milliseconds a key), rows that join
        it need a refilter."""
        assert self.pool is not None
        model = self.grid.label_model
        leaving = [f for f in changed if model.row_of(f) is not None and not self._shows(f)]
        joining = [f for f in changed if model.row_of(f) is None and self._shows(f)]
        if joining:
            self._refilter()
        elif leaving:
            model.remove_files(leaving)
        model.refresh()
        self.grid.select_row(first_row if (leaving or joining) else first_row + step)
        self._update_class_counts()
        if self._since_retrain >= RETRAIN_EVERY:
            self._retrain()
        else:
            self.idle.start()
        self._update_status()

    @Slot()
    def _retrain(self) -> None:
        self.idle.stop()
        if self.pool is not None and self._since_retrain:
            self._since_retrain = 0
            self.suggester.request(self.pool.labels)

    # --- classes and filters ------------------------------------------------------------------
    def _update_class_counts(self) -> None:
        """The buttons' counts; the buttons are rebuilt only when a class was added."""
        assert self.pool is not None
        items = (self.class_row.itemAt(i) for i in range(self.class_row.count()))
        widgets = [item.widget() for item in items if item is not None]
        buttons = [b for b in widgets if isinstance(b, QPushButton)]
        if len(buttons) != len(self.pool.classes):
            self._update_classes()
            return
        counts = self.pool.counts()
        for n, (button, name) in enumerate(zip(buttons, self.pool.classes, strict=True), 1):
            text = f"{name} ({counts.get(name, 0)})"
            button.setText(f"{n}  {text}" if n <= 9 else text)

    def _update_classes(self) -> None:
        while self.class_row.count():
            item = self.class_row.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None and widget is not self.name_field:
                widget.deleteLater()
        counts = self.pool.counts() if self.pool else {}
        for n, name in enumerate(self.pool.classes if self.pool else [], start=1):
            text = f"{n}  {name} ({counts.get(name, 0)})" if n <= 9 else \
                f"{name} ({counts.get(name, 0)})"
            button = QPushButton(text)
            button.setToolTip(f"Label the selected images {name!r}")
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.clicked.connect(partial(self.label_selection, name))
            self.class_row.addWidget(button)
        self.class_row.addWidget(self.name_field)
        self._update_filters()

    def _update_filters(self) -> None:
        current = self.filter_box.currentText() or UNLABELLED
        names = [UNLABELLED, ALL, DISAGREE] + [f"Class: {c}" for c in
                                              (self.pool.classes if self.pool else [])]
        if names == [self.filter_box.itemText(i) for i in range(self.filter_box.count())]:
            return
        self.filter_box.blockSignals(True)
        self.filter_box.clear()
        self.filter_box.addItems(names)
        self.filter_box.setCurrentText(current if current in names else UNLABELLED)
        self.filter_box.blockSignals(False)

    # --- suggestions ----------------------------------------------------------------------------
    @Slot()
    def _on_features_ready(self) -> None:
        self._update_status()

    @Slot(object)
    def _on_suggested(self, result: object) -> None:
        if not isinstance(result, Suggestions) or self.pool is None:
            return
        self.suggestions = result
        if self.filter_box.currentText() in (UNLABELLED, DISAGREE):
            current = self.grid.currentIndex().row()
            self._refilter(keep_row=max(current, 0))
        else:
            self.grid.label_model.refresh()
        self._update_status()

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        self._progress = (done, total)
        self._update_status()

    @Slot(str)
    def _on_write_failed(self, message: str) -> None:
        show_error(self, "labels.csv not written", message)

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self.status.setText(f"Suggestions unavailable: {message}")

    def _update_status(self, *_: object) -> None:
        ready = self.suggester.features is not None
        self.status.setText(status_text(self.pool, self.suggestions, ready,
                                        self.suggester.busy, getattr(self, "_progress", None)))

    # --- sorting ----------------------------------------------------------------------------------
    @Slot()
    def _on_sort_clicked(self) -> None:
        moves = confirm_sort(self, self.pool) if self.pool is not None else None
        if moves:
            self.sort_now(moves)

    def sort_now(self, moves: list) -> None:
        assert self.pool is not None
        try:
            apply_sort(self.pool, moves)
        except Exception as exc:  # noqa: BLE001 - a move refused: what was done is kept
            show_error(self, "Sorting stopped", str(exc))
        self.writer.flush()  # the files moved: the labels file says so before anything else
        self.suggester.load(self.pool, self.state.config.model.backbone)
        self._refilter(keep_row=0)
        self._update_status()

    # --- camera ----------------------------------------------------------------------------------
    def open_camera(self, sources: dict | None = None) -> QWidget | None:
        from .camera_dialog import CameraDialog, run_predictor

        if self.pool is None:
            show_error(self, "No folder open", "Open the folder the frames should go to first.")
            return None
        dialog = CameraDialog(self.pool, run_predictor(self.state.run_dir), self,
                              sources or None)
        dialog.recorded.connect(self._on_recorded)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    @Slot(list)
    def _on_recorded(self, files: list) -> None:
        self._since_retrain += len(files)
        self.suggester.load(self.pool, self.state.config.model.backbone) if self.pool else None
        self._refilter(keep_row=0)
        self._update_classes()
        self._update_status()

    def shutdown(self) -> None:
        self.idle.stop()
        self.writer.stop()
        self.suggester.cancel()
        self.grid.loader.reset()

