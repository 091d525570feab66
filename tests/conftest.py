"""Shared fixtures: generated datasets, the tiny test backbone, offscreen Qt."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# every run in the tests (and their child processes) on the same threads, whatever the load:
# results compared across processes stay identical, and no run measures the machine
os.environ.setdefault("TRANSFER_GUI_THREADS", str(min(2, os.cpu_count() or 1)))
sys.path.insert(0, str(Path(__file__).parent))

from imagegen import make_dataset

DATA = Path(__file__).parent / "data"
WINDOW_FIXTURES = {"qtbot", "window", "tiny_window"}


def pytest_collection_finish(session: pytest.Session) -> None:
    """The type check runs beside the other tests (its test waits for it at its turn)."""
    if any(item.nodeid.split("::")[0].endswith("test_types.py") for item in session.items):
        import typecheck

        typecheck.start()


def pytest_sessionfinish(session: pytest.Session) -> None:
    import typecheck

    typecheck.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that drives Qt is a GUI test, marked or not (`-m "not gui"` leaves it out)."""
    for item in items:
        if WINDOW_FIXTURES & set(getattr(item, "fixturenames", ())) and \
                item.get_closest_marker("gui") is None:
            item.add_marker(pytest.mark.gui)


@pytest.fixture(scope="session", autouse=True)
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The engine's on-disk cache goes to a temporary folder, never the user's."""
    folder = tmp_path_factory.mktemp("cache")
    os.environ["TRANSFER_GUI_CACHE_DIR"] = str(folder)
    return folder


@pytest.fixture(scope="session", autouse=True)
def tiny_backbone(tmp_path_factory: pytest.TempPathFactory) -> str:
    import torch

    # one thread: the tests' tensors are small, and on a 2-core machine that other jobs
    # share a second thread mostly waits (tests/test_adapt.py: 9 s of CPU and 26 s against
    # 24 s and 60 s with two threads)
    torch.set_num_threads(1)
    from tinynet import install

    return install(tmp_path_factory.mktemp("tiny")).name


@pytest.fixture(scope="session")
def shapes_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three classes of coloured shapes, 16 images each, 64 px."""
    return make_dataset(tmp_path_factory.mktemp("shapes"), per_class=16, size=64)


@pytest.fixture(scope="session")
def hard_shapes_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same three classes, 16 images each, 64 px, that a linear probe does not solve:
    small shapes of any colour on busy backgrounds (the bundled network's probe gets about
    half the validation images right). For tests that need a fine-tune's epochs after the
    probe: one that misses at most one validation image ends the run."""
    return make_dataset(tmp_path_factory.mktemp("hard_shapes"), per_class=16, size=64,
                        any_colour=True, blocks=True, scale=(0.12, 0.2))


@pytest.fixture(scope="session")
def probe_run_template(shapes_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """One trained run that the evaluate, predict, report, watch and untrusted-file tests
    read: tiny_cnn, a linear probe, 2 epochs of batches of 8 at 32 px on `shapes_dir`, with
    every event it sent (a `Recorder`). Trained once; tests take their own copy (`probe_run`)."""
    from runhelpers import tiny_config
    from transfer_gui.core.events import Recorder
    from transfer_gui.core.train.loop import Trainer

    recorder = Recorder()
    run = tmp_path_factory.mktemp("probe_run") / "probe"
    Trainer().fit(tiny_config(shapes_dir, epochs=2, image_size=32), run, [recorder])
    return run, recorder


@pytest.fixture()
def probe_run(probe_run_template, tmp_path: Path) -> Path:
    """This test's own copy of the shared trained run (change it freely)."""
    return Path(shutil.copytree(probe_run_template[0], tmp_path / "shared" / "probe"))


@pytest.fixture(scope="session")
def photo_dir() -> Path:
    return DATA


@pytest.fixture()
def window(qtbot, tmp_path, monkeypatch):
    """The main window with the engine loaded, isolated settings and data folders; fails the
    test if background threads are left running."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QMessageBox

    from transfer_gui.ui import worker
    from transfer_gui.ui.app import create_app
    from transfer_gui.ui.main_window import MainWindow
    from transfer_gui.ui.widgets.notices import dialogs

    monkeypatch.setenv("TRANSFER_GUI_DATA_DIR", str(tmp_path / "home"))
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: QMessageBox.StandardButton.Discard)
    create_app([])
    dialogs.SHOWN.clear()
    win = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(win.state.engine_ready, timeout=60_000):
        win.start_engine()
    yield win
    win.state.set_modified(False)
    win.close()
    try:
        qtbot.waitUntil(lambda: not worker.live_jobs(), timeout=20_000)
    except Exception:  # noqa: BLE001 - report which threads, below
        pass
    dangling = [t.name for t in worker.live_jobs()]
    assert not dangling, f"threads left running: {dangling}"


@pytest.fixture()
def tiny_window(request, monkeypatch):
    """The window with the tiny test network listed on the Model page."""
    from transfer_gui.core.models import backbones

    every = backbones.list_specs
    monkeypatch.setattr(backbones, "list_specs", lambda include_hidden=False: every(True))
    return request.getfixturevalue("window")


@pytest.fixture(scope="session")
def trained_run(shapes_dir, tmp_path_factory) -> Path:
    """One tiny-network linear probe on `shapes_dir` (64 px, 1 epoch), shared by the tests
    that use a finished run without changing it (serving, exports)."""
    from transfer_gui.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from transfer_gui.core.train.loop import Trainer

    out = tmp_path_factory.mktemp("trained") / "run"
    cfg = RunConfig(DataConfig(root=str(shapes_dir)),
                    ModelConfig(backbone="tiny_cnn", strategy="linear-probe"),
                    TrainConfig(image_size=64, epochs=1))
    Trainer().fit(cfg, out)
    return out
