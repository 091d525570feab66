"""The Predict page's "Serve this model": the server starts in the background, answers,
shows its address, a curl example and what it served, and stops."""

from __future__ import annotations

import socket

import httpx
import pytest

from transfer_gui.ui.pages.serve_panel import ServePanel


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.gui
def test_serve_this_model_starts_answers_and_stops(qtbot, trained_run, shapes_dir):
    panel = ServePanel()
    qtbot.addWidget(panel)
    assert not panel.start_button.isEnabled()  # no run yet
    panel.set_run(str(trained_run))
    panel.port.setValue(free_port())
    panel.start_button.click()
    assert not panel.serving and not panel.start_button.isEnabled()  # loading, not blocking
    qtbot.waitUntil(lambda: panel.serving, timeout=60_000)
    url = panel.server.url
    assert url in panel.address.text() and panel.curl.text().endswith(f"{url}/predict")
    image = next(shapes_dir.rglob("*.png"))
    answer = httpx.post(f"{url}/predict", files={"image": (image.name, image.read_bytes())})
    assert answer.status_code == 200 and answer.json()["label"]
    qtbot.waitUntil(lambda: "1 request answered" in panel.stats.text(), timeout=5000)
    assert "latency median" in panel.stats.text()
    panel.copy_button.click()
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.clipboard().text() == panel.curl.text()
    server = panel.server
    panel.stop_button.click()
    assert not panel.serving and panel.start_button.isEnabled()
    qtbot.waitUntil(lambda: not server.running, timeout=15_000)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/health", timeout=2)
