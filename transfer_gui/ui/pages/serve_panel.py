""""Serve this model" on the Predict page: the trained run behind a local HTTP API.

The model loads and the server starts in a background task; uvicorn then runs in a thread of
its own, so the window never waits on a request. A timer shows the requests served and their
latency; Stop shuts the server down (also in the background) and so does quitting.
"""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import QCoreApplication, Qt, QTimer, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ...core import count
from ..widgets.notices.dialogs import show_error
from ..worker import Job, start_job

DEFAULT_PORT = 8000


def start_server(run_dir: str, port: int) -> Any:
    """Load the run and start serving it on 127.0.0.1:`port` (the window's server never
    listens beyond this machine)."""
    from ...serve import require_serve

    require_serve()
    from ...serve.server import Server
    from ...serve.service import Service

    service = Service.from_run(run_dir)
    try:
        server = Server(service, "127.0.0.1", port)
        server.start()
    except Exception:
        service.close()
        raise
    return server


class ServePanel(QGroupBox):
    """Start and stop a prediction server for the current run, and show what it serves."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Serve this model", parent)
        self.run_dir = ""
        self.server: Any = None
        self.task: Job | None = None
        self._build()
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._show_stats)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        self._update()

    def _build(self) -> None:
        self.port = QSpinBox()
        self.port.setRange(1024, 65535)
        self.port.setValue(DEFAULT_PORT)
        self.port.setToolTip("The port on this machine (127.0.0.1) that answers requests")
        self.start_button = QPushButton("Serve")
        self.start_button.setToolTip("Answer POST /predict on this machine with the trained "
                                     "model (API documentation at /docs)")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.address = QLabel("")
        self.address.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.address.setOpenExternalLinks(True)
        self.curl = QLineEdit()
        self.curl.setReadOnly(True)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the example command")
        self.copy_button.clicked.connect(self._on_copy)
        self.stats = QLabel("")
        top = QHBoxLayout()
        for widget in (QLabel("Port"), self.port, self.start_button, self.stop_button):
            top.addWidget(widget)
        top.addWidget(self.address, 1)
        example = QHBoxLayout()
        example.addWidget(self.curl, 1)
        example.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(example)
        layout.addWidget(self.stats)

    @property
    def serving(self) -> bool:
        return self.server is not None

    def set_run(self, run_dir: str) -> None:
        """The run to serve; a server of another run is stopped."""
        if run_dir != self.run_dir and self.serving:
            self.stop()
        self.run_dir = run_dir
        self._update()

    @Slot()
    def start(self) -> None:
        if not self.run_dir or self.serving or self.task is not None:
            return
        run, port = self.run_dir, self.port.value()
        self.task = start_job(lambda _callbacks, _cancel: start_server(run, port), "serve")
        self.task.succeeded.connect(self._on_started)
        self.task.failed.connect(self._on_failed)
        self.task.done.connect(self._on_task_done)
        self.stats.setText(f"Loading {os.path.basename(run)} and starting the server…")
        self._update()

    @Slot()
    def stop(self) -> None:
        server, self.server = self.server, None
        self._timer.stop()
        if server is not None:
            self.stats.setText(f"Stopped after {self._stats_text(server.stats())}")
            # shutting down waits for open requests: not in the window's thread
            start_job(lambda _callbacks, _cancel: server.stop(), "serve-stop")
        self._update()

    @Slot()
    def shutdown(self) -> None:
        """Quitting: stop at once and wait for the server."""
        server, self.server = self.server, None
        if server is not None:
            server.stop()

    @Slot(object)
    def _on_started(self, server: Any) -> None:
        self.server = server
        self._timer.start()
        self._show_stats()
        self._update()

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self.stats.setText("")
        self._update()
        show_error(self, "Could not start the server", message, details)

    @Slot()
    def _on_task_done(self) -> None:
        self.task = None
        self._update()

    def _update(self) -> None:
        starting = self.task is not None
        self.start_button.setEnabled(bool(self.run_dir) and not self.serving and not starting)
        self.stop_button.setEnabled(self.serving)
        self.port.setEnabled(not self.serving and not starting)
        self.curl.setVisible(self.serving)  # only what there is to show: a compact box
        self.copy_button.setVisible(self.serving)
        self.stats.setVisible(bool(self.stats.text()))
        if self.serving:
            self.address.setText(f"<a href='{self.server.url}/docs'>{self.server.url}</a> "
                                 "(API documentation at /docs)")
            self.curl.setText(self.server.curl_example())
        else:
            self.address.setText("" if self.run_dir else "Train a model (or open a run) to "
                                                          "serve it")
            self.curl.setText("")

    @Slot()
    def _show_stats(self) -> None:
        if self.server is not None:
            self.stats.setText(f"Serving: {self._stats_text(self.server.stats())}")

    @staticmethod
    def _stats_text(stats: dict[str, Any]) -> str:
        text = f"{count(stats['served'], 'request')} answered, {stats['failed']} refused"
        if stats["p50_ms"] is not None:
            text += (f"; latency median {stats['p50_ms']:.0f} ms, 95th percentile "
                     f"{stats['p95_ms']:.0f} ms")
        return text

    @Slot()
    def _on_copy(self) -> None:
        QGuiApplication.clipboard().setText(self.curl.text())
