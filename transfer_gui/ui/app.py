"""Starting the application: QApplication, style, the main window with its first page; once it
is on screen the other pages, then torch in the background, so the window appears before the
seconds pyqtgraph and torch take to import."""

from __future__ import annotations

import os
import sys
import time
import traceback
from functools import partial
from types import TracebackType

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QApplication, QStyleFactory

from .. import __version__


def create_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    if not isinstance(app, QApplication):
        raise RuntimeError("another Qt application without windows is already running")
    QCoreApplication.setOrganizationName("transfer_gui")
    QCoreApplication.setApplicationName("transfer_gui")
    QCoreApplication.setApplicationVersion(__version__)
    app.setDesktopFileName("transfer-gui")
    if "Fusion" in QStyleFactory.keys():  # noqa: SIM118 - a Qt function, not a dict
        app.setStyle("Fusion")
    from .resources import icon, style_sheet

    app.setWindowIcon(icon("app"))
    app.setStyleSheet(style_sheet())
    return app


def _install_excepthook(window) -> None:
    """An unexpected error in a slot becomes a dialog instead of a silent failure or a crash."""
    from .widgets.notices.dialogs import show_error

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        details = "".join(traceback.format_exception(kind, value, tb))
        print(details, file=sys.stderr)
        show_error(window, "Unexpected error", f"{kind.__name__}: {value}", details)

    sys.excepthook = hook


def main(target: str | None = None) -> int:
    """Open the window (and a project file or an image folder given on the command line)."""
    app = create_app()
    from .main_window import MainWindow

    window = MainWindow()
    _install_excepthook(window)
    if os.environ.get("TRANSFER_GUI_STARTUP_MARKS"):  # the start-up benchmark's timings
        window.first_painted.connect(partial(_mark, "painted"))
        window.state.engine_ready.connect(partial(_mark, "engine"))
    window.show()
    # once the window is on screen: the other pages, then torch in the background
    then = window.close if os.environ.get("TRANSFER_GUI_QUIT_AFTER_SHOW") else None  # smoke test
    window.first_painted.connect(partial(window.finish_startup, then))
    if target:
        window.first_painted.connect(lambda: _open_target(window, target))
    code = app.exec()
    from .worker import cancel_all

    cancel_all(15_000)  # never leave Python with a thread still running
    return code


def _mark(name: str) -> None:
    print(f"startup {name} {time.time():.4f}", flush=True)


def _open_target(window, target: str) -> None:
    if os.path.isdir(target):
        window.data_page.open_folder(target)
    else:
        window.projects.open_project(target)
