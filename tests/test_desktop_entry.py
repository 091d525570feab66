"""packaging/install-desktop-entry.sh: the menu entry names the program by its absolute path
(a desktop menu does not see a shell's PATH or an activated virtual environment)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "packaging" / "install-desktop-entry.sh"

pytestmark = pytest.mark.skipif(sys.platform == "win32" or shutil.which("sh") is None,
                                reason="a POSIX shell script for Linux desktops")


def fake_program(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    program = folder / "transfer-gui"
    program.write_text("#!/bin/sh\nexit 0\n")
    program.chmod(0o755)
    return program


def install(tmp_path: Path, *args: str, path: str = "/usr/bin:/bin"):
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "PATH": path}
    return subprocess.run(["sh", str(SCRIPT), *args], env=env, capture_output=True,
                          text=True, timeout=60)


def exec_line(tmp_path: Path) -> str:
    entry = (tmp_path / "data" / "applications" / "transfer-gui.desktop").read_text()
    return next(line for line in entry.splitlines() if line.startswith("Exec="))


def test_the_entry_starts_the_transfer_gui_beside_the_python_it_is_given(tmp_path):
    program = fake_program(tmp_path / "venv" / "bin")
    (tmp_path / "venv" / "bin" / "python").symlink_to(sys.executable)
    done = install(tmp_path, "--python", str(tmp_path / "venv" / "bin" / "python"))
    assert done.returncode == 0, done.stderr
    assert exec_line(tmp_path) == f'Exec="{program}" %f'
    assert str(program) in done.stdout
    assert (tmp_path / "data" / "mime" / "packages" / "transfer-gui-project.xml").is_file()

    assert install(tmp_path, "--remove").returncode == 0
    assert not (tmp_path / "data" / "applications" / "transfer-gui.desktop").exists()


def test_without_options_the_entry_names_the_installed_program_by_its_absolute_path(tmp_path):
    on_path = fake_program(tmp_path / "bin")
    done = install(tmp_path, path=f"{tmp_path / 'bin'}:/usr/bin:/bin")
    assert done.returncode == 0, done.stderr
    venv = ROOT / ".venv" / "bin" / "transfer-gui"  # the README's install comes first
    expected = venv if os.access(venv, os.X_OK) else on_path
    assert exec_line(tmp_path) == f'Exec="{expected}" %f'
    assert Path(exec_line(tmp_path).split('"')[1]).is_absolute()


def test_a_missing_program_is_refused_with_what_to_do(tmp_path):
    done = install(tmp_path, "--exec", str(tmp_path / "nothing"))
    assert done.returncode == 1 and "is not an executable file" in done.stderr
    done = install(tmp_path, "--python", str(tmp_path / "elsewhere" / "python"))
    assert done.returncode == 1 and "no transfer-gui beside" in done.stderr
    assert not (tmp_path / "data" / "applications").exists()
