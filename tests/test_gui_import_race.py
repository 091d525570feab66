"""Start-up race: the Evaluate page's thread (a project opened with a run) and the thread that
loads PyTorch start together. torch and torchvision must be imported by one path, once: never
by two threads at the same time (a partially initialised torchvision.transforms otherwise
leaves the window without PyTorch)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.gui

CODE = textwrap.dedent("""
    import os, sys, threading, time
    os.environ['QT_QPA_PLATFORM'] = 'offscreen'
    seen = []  # (thread, module) for each torch/torchvision module found

    class Slow:
        '''Widens the race: each torchvision module takes a little longer to find.'''
        def find_spec(self, name, path=None, target=None):
            if name.split('.')[0] in ('torch', 'torchvision'):
                seen.append((threading.current_thread().name, name))
                if name.startswith('torchvision'):
                    time.sleep(0.01)
            return None

    sys.meta_path.insert(0, Slow())
    from PySide6.QtCore import QSettings
    from transfer_gui.ui.app import create_app
    from transfer_gui.ui.main_window import MainWindow
    from transfer_gui.ui import worker
    app = create_app([])
    win = MainWindow(QSettings(sys.argv[2], QSettings.Format.IniFormat))
    win.build_pages()
    failures = []
    win.evaluate_page  # built
    import transfer_gui.ui.pages.evaluate_page as ep
    from transfer_gui.ui.widgets.notices import dialogs
    ep.show_error = lambda *a: failures.append(a[2])
    import transfer_gui.ui.main_window as mw
    mw.show_error = lambda *a: failures.append(a[2])
    win.state.set_run(sys.argv[1])  # the Evaluate page starts its thread
    win.start_engine()  # and the loader its own
    deadline = time.monotonic() + 200
    while (worker.live_jobs() or win.state.engine is None) and time.monotonic() < deadline:
        app.processEvents(); time.sleep(0.01)
    importers = sorted({t for t, name in seen if name.startswith('torchvision')})
    print('ENGINE', win.state.engine is not None)
    print('IMPORTERS', len(importers), importers)
    print('FAILURES', [f for f in failures if 'partially initialized' in f or 'ImportError' in f])
    win.state.set_modified(False); win.close()
""")


def test_torch_is_imported_by_one_thread_when_the_pages_start_together(tmp_path):
    run = tmp_path / "run"
    run.mkdir()  # not a real run: the Evaluate page's thread imports the engine, then fails
    out = subprocess.run([sys.executable, "-c", CODE, str(run), str(tmp_path / "s.ini")],
                         capture_output=True, text=True, timeout=300,
                         env={**__import__("os").environ,
                              "TRANSFER_GUI_DATA_DIR": str(tmp_path / "home")})
    lines = {line.split()[0]: line for line in out.stdout.splitlines() if line.strip()}
    assert lines.get("ENGINE") == "ENGINE True", out.stdout + out.stderr[-3000:]
    assert lines["FAILURES"] == "FAILURES []", out.stdout
    assert lines["IMPORTERS"].startswith("IMPORTERS 1 "), out.stdout
