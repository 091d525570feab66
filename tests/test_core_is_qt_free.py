"""The engine must run without Qt: importing every core module never imports Qt."""

import subprocess
import sys

import pytest

CODE = r"""
import importlib, pkgutil, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('PySide6', 'PyQt5', 'PyQt6', 'pyqtgraph', 'shiboken6'):
            raise ImportError('Qt is blocked: ' + name)
sys.meta_path.insert(0, Block())
import transfer_gui.core as core
for mod in pkgutil.walk_packages(core.__path__, 'transfer_gui.core.'):
    importlib.import_module(mod.name)
import transfer_gui.cli, transfer_gui.cli.console
bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6')]
print('QT' if bad else 'CLEAN', bad)
"""


@pytest.mark.slow
def test_core_imports_without_qt():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("CLEAN"), out.stdout


def test_cli_help_does_not_import_torch():
    code = "import sys; from transfer_gui.cli import build_parser; build_parser(); " \
           "print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stdout + out.stderr
