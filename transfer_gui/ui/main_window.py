"""The main window: composes the seven pages, the menus and the status bar. No training or data
logic lives here; the pages and the shared `AppState` do the work.

Start-up: only the Data page is built before the window is shown. The other five (and
pyqtgraph, which the plotting pages import) are built after the window's first paint, one per
turn of the event loop, and then PyTorch is imported in the background. A page asked for
earlier (its sidebar entry, a menu, a project opened) is built at once, and every page exists
before the shared state first changes, so none misses a signal.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, cast

from PySide6.QtCore import QSettings, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QPaintEvent,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QWidget,
)

from .. import __version__
from .engine_loader import EngineInfo, load_engine
from .page_stack import PageStack
from .pages.data_page import DataPage
from .project_actions import ProjectActions
from .resources import icon
from .screen import fit_on_screen, keep_on_screen
from .state import AppState
from .steps import Step
from .widgets.inputs.drop_zone import dropped_paths
from .widgets.notices.dialogs import show_error
from .widgets.tables.image_grid import ThumbnailLoader
from .worker import accept_jobs, cancel_all, live_jobs, start_job

if TYPE_CHECKING:
    from .pages.compare_page import ComparePage
    from .pages.evaluate_page import EvaluatePage
    from .pages.model_page import ModelPage
    from .pages.predict_page import PredictPage
    from .pages.train_page import TrainPage


class MainWindow(QMainWindow):
    first_painted = Signal()  # the window is on screen (start-up continues from here)

    def __init__(self, settings: QSettings | None = None) -> None:
        super().__init__()
        accept_jobs(True)
        self.settings = settings or QSettings()
        self.state = AppState()
        self.data_page = DataPage(self.state)
        self._painted = False
        self.projects = ProjectActions(self, self.state, self.settings)
        self._closing = False
        self._build()
        self._build_menus()
        self._build_status_bar()
        self.state.before_change = self.build_pages
        self.state.modified_changed.connect(self._update_title)
        self.state.project_loaded.connect(self._update_title)
        self.state.scan_changed.connect(self._update_status)
        self.state.busy_changed.connect(self._on_busy_changed)
        self.state.status_message.connect(partial(self.statusBar().showMessage, timeout=8000))
        self._update_title()
        self.setAcceptDrops(True)
        self.setWindowIcon(icon("app"))
        fit_on_screen(self, 1280, 800)
        self._restore_geometry()
        keep_on_screen(self)  # saved on a larger screen

    # --- layout -----------------------------------------------------------------------------

    def _build(self) -> None:
        self.sidebar = QListWidget()
        self.sidebar.setObjectName("sidebar")
        self.sidebar.setFixedWidth(176)
        self.sidebar.setIconSize(QSize(22, 22))
        self.sidebar.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        for step in Step:
            item = QListWidgetItem(icon(step.icon), f"  {step + 1}   {step.title}")
            item.setToolTip(f"{step.title} (Ctrl+{step + 1})")
            self.sidebar.addItem(item)
        self.stack = PageStack(self.state, self.data_page)
        self.stack.page_built.connect(self._on_page_built)
        self.data_page.setObjectName("page")
        self.sidebar.currentRowChanged.connect(self._on_step_chosen)
        self.sidebar.setCurrentRow(0)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.sidebar)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)

    def show_step(self, step: Step) -> None:
        self.sidebar.setCurrentRow(step)

    @Slot(int)
    def _on_step_chosen(self, row: int) -> None:
        self.page(Step(row))
        self.stack.setCurrentIndex(row)

    # --- pages, built on first need ---------------------------------------------------------

    def page(self, step: Step) -> QWidget:
        """The page of `step`, built now if it was not yet (`PageStack`)."""
        return self.stack.page(Step(step))

    @Slot(object, object)
    def _on_page_built(self, step: Step, page: QWidget) -> None:
        if step == Step.TRAIN:
            train = cast("TrainPage", page)
            train.run_finished.connect(self._on_run_finished)
            train.watch_requested.connect(self.watch_run)

    def build_pages(self) -> None:
        """Every page not built yet (before the state first changes: each page listens)."""
        self.state.before_change = None
        for step in Step:
            self.page(step)

    @property
    def pages(self) -> list[QWidget]:
        return [self.page(step) for step in Step]  # all, built now

    @property
    def model_page(self) -> ModelPage:
        return cast("ModelPage", self.page(Step.MODEL))  # built on first use: see page()

    @property
    def train_page(self) -> TrainPage:
        return cast("TrainPage", self.page(Step.TRAIN))  # built on first use: see page()

    @property
    def evaluate_page(self) -> EvaluatePage:
        return cast("EvaluatePage", self.page(Step.EVALUATE))  # built on first use

    @property
    def predict_page(self) -> PredictPage:
        return cast("PredictPage", self.page(Step.PREDICT))  # built on first use

    @property
    def compare_page(self) -> ComparePage:
        return cast("ComparePage", self.page(Step.COMPARE))  # built on first use

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if not self._painted:  # signalled once this paint is on screen
            self._painted = True
            QTimer.singleShot(0, self.first_painted.emit)

    def finish_startup(self, then: Callable[[], object] | None = None) -> None:
        """After the first paint: the remaining pages, one per turn of the event loop (the
        window answers between them), then PyTorch in the background, then `then`."""
        if self._closing:
            return
        missing = self.stack.missing()
        if missing:
            self.page(missing[0])
            QTimer.singleShot(0, partial(self.finish_startup, then))
            return
        self.build_pages()
        self.start_engine()
        if then is not None:
            then()

    def _action(self, menu, text: str, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        p = self.projects
        self._action(file, "&New project", p.new_project, QKeySequence.StandardKey.New)
        self._action(file, "&Open project…", p.open_project_dialog, QKeySequence.StandardKey.Open)
        self.recent_menu = file.addMenu("Open &recent")
        p.attach_recent_menu(self.recent_menu)
        self._action(file, "&Save project", p.save_project, QKeySequence.StandardKey.Save)
        self._action(file, "Save project &as…", p.save_project_as, QKeySequence.StandardKey.SaveAs)
        file.addSeparator()
        self._action(file, "Open image &folder…", self._on_open_folder, "Ctrl+Shift+O")
        self._action(file, "Open &trained run…", p.open_run_dialog)
        self._action(file, "&Watch run…", self._on_watch_run)
        self._action(file, "Export run &configuration…", p.export_run_config)
        self.export_action = self._action(file, "&Export model…", p.export_model, "Ctrl+E")
        file.addSeparator()
        self._action(file, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        run = bar.addMenu("&Run")
        self.start_action = self._action(run, "&Start training",
                                         lambda: self.train_page.start(), "Ctrl+Return")
        self.stop_action = self._action(run, "S&top training", self._stop_training, "Ctrl+.")
        self.stop_action.setEnabled(False)
        self._action(run, "&Evaluate", self._on_evaluate_action, "F5")
        run.addSeparator()
        self._action(run, "&Know your data…", self.show_know_your_data, "Ctrl+K")
        view = bar.addMenu("&View")
        for step in Step:
            self._action(view, step.title, partial(self.show_step, step), f"Ctrl+{step + 1}")
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&Quick start", self.show_quick_start,
                     QKeySequence.StandardKey.HelpContents)
        self._action(help_menu, "&About transfer_gui", self._on_about)

    @Slot()
    def show_know_your_data(self) -> QWidget:
        """The "Know your data" window (built on first use), shown and raised."""
        know_your_data = getattr(self, "know_your_data", None)
        if know_your_data is None:
            from .know_your_data.data_window import KnowYourDataWindow

            know_your_data = self.know_your_data = KnowYourDataWindow(self.state, self)
        know_your_data.show()
        know_your_data.raise_()
        return know_your_data

    @Slot()
    def _on_evaluate_action(self) -> None:
        """F5 evaluates where the user sees it: on the Evaluate page."""
        self.show_step(Step.EVALUATE)
        self.evaluate_page.evaluate()

    @Slot()
    def _stop_training(self) -> None:
        self.train_page.stop()
        self.compare_page.stop()  # a comparison trains too

    def _build_status_bar(self) -> None:
        self.data_status = QLabel("No data")
        self.device_status = QLabel("Loading PyTorch…")
        bar = self.statusBar()
        bar.addPermanentWidget(self.data_status)
        bar.addPermanentWidget(self.device_status)

    # --- engine -----------------------------------------------------------------------------

    def start_engine(self) -> None:
        """Import torch in the background once the window is on screen."""
        task = start_job(load_engine, "engine", self)
        task.succeeded.connect(self._on_engine_loaded)
        task.failed.connect(self._on_engine_failed)

    @Slot(object)
    def _on_engine_loaded(self, info: EngineInfo) -> None:
        # torch and the engine leave ~340k long-lived objects; a full garbage collection over
        # them takes ~160 ms with the GIL held, a visible freeze during training. Freezing
        # them keeps later collections to the objects the session makes.
        gc.freeze()
        self.device_status.setText(f"Device: {info.device}")
        self.state.set_engine(info)

    @Slot(str, str)
    def _on_engine_failed(self, message: str, details: str) -> None:
        self.device_status.setText("PyTorch failed to load")
        show_error(self, "PyTorch could not be loaded", message, details)

    # --- status and title -------------------------------------------------------------------

    @Slot()
    def _update_title(self, *_: object) -> None:
        path = self.state.project.path
        name = os.path.basename(path) if path else "Untitled project"
        self.setWindowTitle(f"{name}[*] — transfer_gui")
        self.setWindowModified(self.state.modified)

    @Slot()
    def _update_status(self) -> None:
        scan = self.state.scan
        self.data_status.setText(f"Data: {scan.summary()}" if scan else "No data")

    @Slot(bool)
    def _on_busy_changed(self, busy: bool) -> None:
        self.start_action.setEnabled(not busy)
        self.stop_action.setEnabled(busy)
        self.statusBar().showMessage("Training…" if busy else "", 0 if busy else 3000)

    @Slot(str, str)
    def _on_run_finished(self, run_dir: str, status: str) -> None:
        self.statusBar().showMessage(f"Training {status}: {os.path.basename(run_dir)}", 8000)

    # --- files ------------------------------------------------------------------------------

    @Slot()
    def _on_open_folder(self) -> None:
        self.show_step(Step.DATA)
        self.data_page.choose_folder()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if dropped_paths(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = dropped_paths(event)
        if not paths:
            return
        event.acceptProposedAction()
        if self.stack.currentIndex() == Step.PREDICT:
            self.predict_page.add_paths(paths)
        elif paths[0].endswith(".tgproj"):
            self.projects.open_project(paths[0])
        elif os.path.isdir(paths[0]):
            self.show_step(Step.DATA)
            self.data_page.open_folder(paths[0])
        else:
            self.show_step(Step.PREDICT)
            self.predict_page.add_paths(paths)

    @Slot()
    def _on_watch_run(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        folder = QFileDialog.getExistingDirectory(self, "Watch a run folder",
                                                  os.path.expanduser("~"))
        if folder:
            self.watch_run(folder)

    def watch_run(self, folder: str) -> QWidget:
        """A window following the run folder `folder` as it is written (`pages.watch`)."""
        from .pages.watch.view import WatchView

        self.build_pages()  # the run it becomes, once ended, reaches every page
        view = WatchView(self.state, folder, self)
        view.step_requested.connect(self.show_step)
        view.show()
        return view

    @Slot()
    def show_quick_start(self) -> None:
        from ..core import runs_folder
        from .widgets.notices.quick_start import QuickStart

        self.quick_start = QuickStart(str(runs_folder(self.state.project)), self)
        self.quick_start.show()

    def _on_about(self) -> None:
        QMessageBox.about(self, "About transfer_gui",
                          f"<b>transfer_gui {__version__}</b><br>Point-and-click transfer "
                          "learning on images, with PyTorch, torchvision and Qt.")

    # --- closing ----------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._closing:
            event.accept()
            return
        training = [self.stack.built(Step.TRAIN), self.stack.built(Step.COMPARE)]
        if any(getattr(page, "running", False) for page in training):  # (None if not built)
            answer = QMessageBox.question(
                self, "Training is running",
                "Stop training and quit? The best model so far is kept.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        if not self.projects.maybe_save():
            event.ignore()
            return
        self._closing = True
        self.state.closing = True
        accept_jobs(False)
        self._save_geometry()
        self.statusBar().showMessage("Stopping background work…")
        if not cancel_all(15_000):
            remaining = ", ".join(t.name for t in live_jobs())
            show_error(self, "Still busy", f"Background work did not stop: {remaining}")
        for loader in self.findChildren(ThumbnailLoader):  # the grids' and the know_your_data's
            loader.reset()
            loader.wait(3000)
        event.accept()

    def _save_geometry(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())

    def _restore_geometry(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)

