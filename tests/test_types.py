"""The type checker holds on the package: mypy, with the configuration in pyproject.toml
([tool.mypy]), finds no errors. Its cache (.mypy_cache) makes a run after small changes take
seconds; the first run in a checkout takes about half a minute of CPU, started in the
background when the tests are collected (`tests/typecheck.py`, from `conftest.py`)."""

from __future__ import annotations

import pytest
import typecheck


@pytest.mark.slow  # half a minute of CPU in a fresh checkout
def test_mypy_finds_no_errors():
    returncode, output = typecheck.verdict()
    assert returncode == 0, f"mypy found errors:\n{output}"
    assert "Success: no issues found" in output, output
