"""File menu actions: new, open, save and recent projects, opening runs, exporting a model."""

from __future__ import annotations

import os
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSettings, Slot
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QProgressDialog, QWidget

from ..core import (
    SUFFIX,
    ConfigError,
    Project,
    ProjectError,
    RunError,
    load_project,
    run_info,
    save_project,
    save_run_config,
)
from .state import AppState
from .widgets.notices.dialogs import show_error
from .widgets.notices.export_dialog import ExportDialog, exportable_runs
from .worker import start_job

if TYPE_CHECKING:
    from ..core import ExportResult

RECENT_KEY = "projects/recent"
MAX_RECENT = 8
FILTER = f"transfer_gui projects (*{SUFFIX});;All files (*)"


class ProjectActions(QObject):
    def __init__(self, window: QWidget, state: AppState, settings: QSettings) -> None:
        super().__init__(window)
        self.window = window
        self.state = state
        self.settings = settings
        self.recent_menu: QMenu | None = None

    # --- recent projects --------------------------------------------------------------------

    def recent(self) -> list[str]:
        value = self.settings.value(RECENT_KEY, [])
        items = [value] if isinstance(value, str) else list(value) if isinstance(
            value, list | tuple) else []
        return [p for p in items if isinstance(p, str)]

    def _remember(self, path: str) -> None:
        items = [path] + [p for p in self.recent() if p != path]
        self.settings.setValue(RECENT_KEY, items[:MAX_RECENT])
        self._fill_recent()

    def attach_recent_menu(self, menu: QMenu) -> None:
        self.recent_menu = menu
        menu.aboutToShow.connect(self._fill_recent)
        self._fill_recent()

    @Slot()
    def _fill_recent(self) -> None:
        menu = self.recent_menu
        if menu is None:
            return
        menu.clear()
        items = self.recent()
        for path in items:
            action = menu.addAction(os.path.basename(path))
            action.setToolTip(path)
            action.setEnabled(os.path.isfile(path))
            action.triggered.connect(partial(self.open_project, path))
        if not items:
            menu.addAction("No recent projects").setEnabled(False)

    # --- projects ---------------------------------------------------------------------------

    @Slot()
    def new_project(self) -> None:
        if self._busy() or not self.maybe_save():
            return
        self.state.load_project(Project())

    @Slot()
    def open_project_dialog(self) -> None:
        # unsaved changes are settled before the file chooser, as in other applications
        if self._busy() or not self.maybe_save():
            return
        path, _ = QFileDialog.getOpenFileName(self.window, "Open project",
                                              os.path.expanduser("~"), FILTER)
        if path:
            self._open(path)

    def open_project(self, path: str, *_: object) -> bool:
        if self._busy() or not self.maybe_save():
            return False
        return self._open(path)

    def _open(self, path: str) -> bool:
        try:
            project = load_project(path)
        except ProjectError as exc:
            show_error(self.window, "Cannot open the project", str(exc))
            return False
        self.state.load_project(project)
        self._remember(os.path.abspath(path))
        if project.missing:
            show_error(self.window, "Some parts of the project were not found",
                       "The project opened, but these paths no longer exist:\n\n"
                       + "\n".join(f"• {m}" for m in project.missing)
                       + "\n\nChoose the data folder again on the Data page.")
        return True

    @Slot()
    def save_project(self) -> bool:
        if not self.state.project.path:
            return self.save_project_as()
        return self._save(self.state.project.path)

    @Slot()
    def save_project_as(self) -> bool:
        start = self.state.project.path or os.path.join(os.path.expanduser("~"),
                                                        f"untitled{SUFFIX}")
        path, _ = QFileDialog.getSaveFileName(self.window, "Save project", start, FILTER)
        if not path:
            return False
        if not path.endswith(SUFFIX):
            path += SUFFIX
        return self._save(path)

    def _save(self, path: str) -> bool:
        try:
            save_project(self.state.project, path)
        except OSError as exc:
            show_error(self.window, "Cannot save the project", f"{path}: {exc}")
            return False
        self.state.set_modified(False)
        self.state.modified_changed.emit(False)  # the title shows the new name
        self._remember(os.path.abspath(path))
        return True

    def maybe_save(self) -> bool:
        """Ask to save unsaved changes; False if the user cancelled."""
        if not self.state.modified:
            return True
        answer = QMessageBox.question(
            self.window, "Unsaved changes", "Save the changes to this project?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Save:
            return self.save_project()
        return answer == QMessageBox.StandardButton.Discard

    def _busy(self) -> bool:
        if self.state.training:
            show_error(self.window, "Training is running", "Stop training first.")
        return self.state.training

    # --- runs and export --------------------------------------------------------------------

    @Slot()
    def open_run_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Open a trained run folder",
                                                  os.path.expanduser("~"))
        if not folder:
            return
        try:
            run_info(folder)
        except RunError as exc:
            show_error(self.window, "Not a trained run", str(exc))
            return
        self.state.set_run(folder)

    @Slot()
    def export_run_config(self, path: str = "") -> str:
        """Save the run configuration set up in the window, for `train --config`; returns
        the file written ("" when none)."""
        if not path:
            path, _ = QFileDialog.getSaveFileName(self.window, "Export run configuration",
                                                  os.path.expanduser("~/run-config.json"),
                                                  "Run configuration (*.json)")
        if not path:
            return ""
        try:
            save_run_config(path, self.state.config)
        except (OSError, ConfigError) as exc:
            show_error(self.window, "The run configuration was not saved", str(exc))
            return ""
        self.state.status_message.emit(f"Run configuration saved: {path} — train it with "
                                       f"transfer-gui train --config {path} --out RUN")
        return path

    @Slot()
    def export_model(self) -> None:
        runs = exportable_runs([*self.state.project.runs, self.state.run_dir])
        if not runs:
            show_error(self.window, "Nothing to export", "Train a model (or open a run) first.")
            return
        dialog = ExportDialog(runs, self.state.run_dir, self.state.project.path, self.window)
        dialog.accepted.connect(partial(self._on_export_chosen, dialog))
        self.export_dialog = dialog
        dialog.open()

    def _on_export_chosen(self, dialog: ExportDialog) -> None:
        run, path, fmt = dialog.chosen()
        if path and (not os.path.exists(path) or self._may_replace(path)):
            self.export_to(path, run, fmt)

    def _may_replace(self, path: str) -> bool:
        answer = QMessageBox.question(
            self.window, "Replace the file?",
            f"{path} exists already. Replace it with the exported model?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Yes

    def export_to(self, path: str, run: str | None = None, fmt: str | None = None):
        """Export on a worker thread (a dialog says so meanwhile: it can take half a minute);
        without `fmt`, the format the suffix names."""
        run = run or self.state.run_dir
        busy = QProgressDialog(f"Exporting {os.path.basename(run)} to {path}…", "", 0, 0,
                               self.window)
        busy.setWindowTitle("Export model")
        busy.setCancelButton(None)  # the export runs to its end
        busy.setMinimumDuration(0)
        self.export_progress = busy
        task = start_job(partial(_export, run, path, fmt), "export", self)
        task.done.connect(busy.close)
        task.succeeded.connect(partial(self._on_exported, run))
        task.failed.connect(partial(show_error, self.window, "Export failed"))
        busy.show()
        return task

    def _on_exported(self, run: str, result: ExportResult) -> None:
        self.state.status_message.emit(f"Exported to {result.path}: {result.summary()}")
        if result.format == "web":
            QMessageBox.information(self.window, "Web page exported", web_message(result))
            return
        size = run_info(run).image_size
        beside = " and ".join(p.name for p in result.sidecars)
        QMessageBox.information(self.window, "Model exported",
                                f"Saved {result.path}.\n\nIt takes RGB images of {size} × "
                                f"{size} pixels with values in [0, 1] and returns logits. "
                                f"Beside it: {beside} (class names and preprocessing).\n\n"
                                f"Checked against the run's model: {result.summary()}.")


def web_message(result: ExportResult) -> str:
    text = (f"Saved {result.path}: open it in a web browser and drop images on it.\n\n"
            f"Checked against the run's model: {result.summary()}.")
    return f"{text}\n\nWarning: {result.warning}." if result.warning else text


def _export(run: str, path: str, fmt: str | None, callbacks: list,
            cancel: object) -> ExportResult:
    from ..core import export_format_for, export_run

    return export_run(run, path, fmt or export_format_for(path))
