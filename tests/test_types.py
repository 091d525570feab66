"""The type checker holds on the package: mypy, with the configuration in pyproject.toml
([tool.mypy]), finds no errors. Its cache (.mypy_cache) makes a run after small changes take
seconds; the first run in a checkout takes about half a minute."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_mypy_finds_no_errors():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-m", "mypy", "--config-file",
                          str(REPO / "pyproject.toml")],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, f"mypy found errors:\n{out.stdout}{out.stderr}"
    assert "Success: no issues found" in out.stdout, out.stdout + out.stderr
