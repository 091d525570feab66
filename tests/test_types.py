"""The type checker holds on the package: mypy, with the configuration in pyproject.toml
([tool.mypy]), finds no errors. Its cache (.mypy_cache) makes a run after small changes take
seconds; the first run in a checkout takes about half a minute of CPU, started in the
background when the tests are collected (`tests/typecheck.py`, from `conftest.py`).

The engine's public names are imported lazily (`core/__init__.py`), so their types come from
the stub beside it (`core/__init__.pyi`): the two must list the same names, and a wrong call
from the window into the engine must be an error the checker reports."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typecheck

REPO = Path(__file__).resolve().parents[1]
CORE = REPO / "transfer_gui" / "core"


def mypy(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file",
                           str(root / "pyproject.toml")],
                          cwd=root, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow  # half a minute of CPU in a fresh checkout
def test_mypy_finds_no_errors():
    returncode, output = typecheck.verdict()
    assert returncode == 0, f"mypy found errors:\n{output}"
    assert "Success: no issues found" in output, output


def stub_names() -> dict[str, str]:
    """Each name the stub re-exports, with the module (relative to `core`) it comes from."""
    tree = ast.parse((CORE / "__init__.pyi").read_text())
    names: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            assert node.level == 1 and node.module, ast.unparse(node)
            for alias in node.names:
                # `import x as x` is the stub's explicit re-export
                assert alias.asname == alias.name, ast.unparse(node)
                names[alias.name] = node.module
    return names


def test_stub_lists_the_lazy_names():
    from transfer_gui import core

    assert stub_names() == core._WHERE
    assert sorted(core._WHERE) == core.__all__


def test_stub_has_no_stale_module():
    """Every name of the table is where it says (a moved name fails here, not at first use)."""
    import importlib

    for name, where in stub_names().items():
        module = importlib.import_module(f"transfer_gui.core.{where}")
        assert hasattr(module, name), f"{name} is not in transfer_gui.core.{where}"


def planted_copy(tmp_path: Path, module: str, text: str) -> Path:
    """A copy of the package with `text` added at the end of `module`'s file; the checker's
    cache comes along when there is one, so only the changed module is checked again."""
    shutil.copytree(REPO / "transfer_gui", tmp_path / "transfer_gui",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    if (REPO / ".mypy_cache").is_dir():
        shutil.copytree(REPO / ".mypy_cache", tmp_path / ".mypy_cache")
    path = tmp_path / (module.replace(".", "/") + ".py")
    path.write_text(path.read_text() + "\n" + text + "\n")
    return tmp_path


def test_planted_wrong_call_from_the_window_fails(tmp_path):
    """The window passes a number where the engine wants a run folder: without the stub, the
    lazy `__getattr__` made every engine name `Any` and this went unseen."""
    typecheck.verdict()  # the checker's cache of the package as it is, copied with it
    text = ("def _planted() -> None:\n"
            "    from ...core import evaluate_run\n\n"
            "    evaluate_run(42)\n")
    out = mypy(planted_copy(tmp_path, "transfer_gui.ui.pages.evaluate_page", text))
    assert out.returncode != 0, out.stdout
    assert 'Argument 1 to "evaluate_run" has incompatible type "int"' in out.stdout, out.stdout
    assert "Found 1 error in 1 file" in out.stdout, out.stdout
