"""Starting the application: QApplication, style, the main window, then torch in the
background, so the window is on screen before the seconds torch takes to import."""

from __future__ import annotations

import os
import sys
import traceback
from types import TracebackType

from PySide6.QtCore import QCoreApplication, QTimer
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
    window.show()
    QTimer.singleShot(0, window.start_engine)
    if target:
        QTimer.singleShot(0, lambda: _open_target(window, target))
    if os.environ.get("TRANSFER_GUI_QUIT_AFTER_SHOW"):  # start-up benchmark and smoke tests
        QTimer.singleShot(0, window.close)
    code = app.exec()
    from .worker import cancel_all

    cancel_all(15_000)  # never leave Python with a thread still running
    return code


def _open_target(window, target: str) -> None:
    if os.path.isdir(target):
        window.data_page.open_folder(target)
    else:
        window.projects.open_project(target)
