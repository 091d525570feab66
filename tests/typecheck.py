"""The type checker, started in the background as soon as the tests are collected: a first
run in a fresh checkout takes half a minute of CPU, mostly while the other tests wait on
windows, threads and subprocesses. `tests/test_types.py` waits for its verdict."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_RUNNING: list[subprocess.Popen] = []


def start() -> subprocess.Popen:
    """mypy with the configuration in pyproject.toml ([tool.mypy]), on the package as it is
    now; its incremental cache (.mypy_cache) makes a later run after small changes take
    seconds. Started once per session."""
    if not _RUNNING:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        _RUNNING.append(subprocess.Popen(
            [sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml")],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return _RUNNING[0]


def verdict(timeout: float = 600) -> tuple[int, str]:
    """mypy's exit code and output (starting it if it was not started)."""
    process = start()
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out + err


def stop() -> None:
    """End a run nobody waited for (the session was cut short)."""
    for process in _RUNNING:
        if process.poll() is None:
            process.kill()
            process.communicate()
