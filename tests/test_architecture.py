"""The package's shape is checked, not described: import-linter's contracts (in pyproject.toml)
hold on the code, and they break when an import goes the wrong way, also from inside a
function. A cycle check covers what the layer contracts allow within one layer."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parents[1]


def lint(root: Path) -> subprocess.CompletedProcess:
    """`lint-imports` on the package found first on the path under `root`."""
    code = "import sys; from importlinter.cli import lint_imports_command; " \
           "sys.exit(lint_imports_command())"
    return subprocess.run([sys.executable, "-c", code, "--config", str(root / "pyproject.toml")],
                          cwd=root, env={"PYTHONPATH": str(root), "PATH": ""},
                          capture_output=True, text=True, timeout=300)


def planted_copy(tmp_path: Path, module: str, text: str) -> Path:
    """A copy of the package with `text` added at the end of `module`'s file."""
    shutil.copytree(REPO / "transfer_gui", tmp_path / "transfer_gui",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    path = tmp_path / (module.replace(".", "/") + ".py")
    path.write_text(path.read_text() + "\n" + text + "\n")
    return tmp_path


def test_contracts_hold():
    out = lint(REPO)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


# Each planted import: (module, the text added to it, the contract it breaks, the module it
# reaches). All go into one copy of the package, linted once; each must be reported under
# its own contract.
PLANTED = [
    # a model module reaching up into training, hidden inside a function
    ("transfer_gui.core.models.layers",
     "def _planted():\n    from ..train.loop import Trainer\n    return Trainer",
     "The engine's layers", "transfer_gui.core.train.loop"),
    # the run folder reaching into analysis at import time
    ("transfer_gui.core.io.bundle", "from ..analysis import metrics  # noqa",
     "The engine's layers", "transfer_gui.core.analysis.metrics"),
    # the engine importing Qt
    ("transfer_gui.core.data.images", "def _planted():\n    import PySide6\n    return PySide6",
     "The engine never imports Qt", "PySide6"),
    # a widget reaching up into a page
    ("transfer_gui.ui.widgets.plots.confusion",
     "def _planted():\n    from ...pages import common\n    return common",
     "The window's layers", "transfer_gui.ui.pages.common"),
    # the window reaching past the public interface
    ("transfer_gui.ui.state", "from ..core.train import recipe  # noqa",
     "public interface", "transfer_gui.core.train.recipe"),
    # the window reaching over into the command line
    ("transfer_gui.ui.state", "def _planted_cli():\n    from .. import cli\n    return cli",
     "The application: command line and window over one engine", "transfer_gui.cli"),
    # the training recipe reaching up into the loop that uses it
    ("transfer_gui.core.train.recipe",
     "def _planted():\n    from .loop import Trainer\n    return Trainer",
     "Training: the loop over its hooks and parts", "transfer_gui.core.train.loop"),
    # a plot reaching over into a table
    ("transfer_gui.ui.widgets.plots.prob_bars",
     "def _planted():\n    from ..tables import run_style\n    return run_style",
     "Widgets by kind", "transfer_gui.ui.widgets.tables.run_style"),
]


def broken_sections(report: str) -> dict[str, str]:
    """lint-imports' report of each broken contract, by the contract's name."""
    lines = report.split("Broken contracts", 1)[-1].splitlines()
    sections: dict[str, list[str]] = {}
    name = ""
    for line, underline in zip(lines, [*lines[1:], ""], strict=True):
        if line.strip() and set(underline.strip()) == {"-"} and len(underline) >= len(line):
            name = line.strip()
            sections[name] = []
        elif name:
            sections[name].append(line)
    # long lines are wrapped at spaces: one space for any run of white space
    return {name: " ".join(" ".join(text).split()) for name, text in sections.items()}


@pytest.fixture(scope="module")
def planted_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str]:
    """lint-imports on one copy of the package that holds every planted import."""
    root = tmp_path_factory.mktemp("planted")
    shutil.copytree(REPO / "transfer_gui", root / "transfer_gui",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    for module, text, *_ in PLANTED:
        path = root / (module.replace(".", "/") + ".py")
        path.write_text(path.read_text() + "\n" + text + "\n")
    out = lint(root)
    return out.returncode, out.stdout + out.stderr


@pytest.mark.parametrize(("module", "text", "contract", "reached"), PLANTED)
def test_planted_import_breaks_a_contract(planted_report, module, text, contract, reached):
    returncode, report = planted_report
    assert returncode != 0, report
    broken = [line for line in report.splitlines() if line.endswith("BROKEN")]
    assert any(contract in line for line in broken), report
    sections = broken_sections(report)
    named = [text for name, text in sections.items() if contract in name]
    assert named, (contract, list(sections))
    # this plant's own import is what the contract reports
    assert any(f"{module} -> {reached}" in text for text in named), report


def cycles(package: str) -> list[set[str]]:
    """Strongly connected groups of more than one module (imports inside functions and under
    TYPE_CHECKING count: grimp reads them all)."""
    graph = grimp.build_graph(package)
    modules = sorted(m for m in graph.modules if m.startswith(package))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(module: str) -> None:  # Tarjan; the package is small enough for recursion
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in sorted(graph.find_modules_directly_imported_by(module)):
            if not other.startswith(package):
                continue
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = set()
            while True:
                top = stack.pop()
                group.add(top)
                if top == module:
                    break
            if len(group) > 1:
                found.append(group)

    for module in modules:
        if module not in index:
            visit(module)
    return found


def test_no_import_cycles():
    assert cycles("transfer_gui") == []


def test_cycle_check_finds_a_planted_cycle(tmp_path, monkeypatch):
    root = planted_copy(tmp_path, "transfer_gui.core.events",
                        "def _planted():\n    from . import interrupt\n    return interrupt")
    monkeypatch.syspath_prepend(str(root))
    for name in [m for m in sys.modules if m == "transfer_gui" or m.startswith("transfer_gui.")]:
        monkeypatch.delitem(sys.modules, name)
    assert {"transfer_gui.core.events", "transfer_gui.core.interrupt"} in cycles("transfer_gui")


def layer_lists() -> dict[str, set[str]]:
    """Each container of a layers contract, with every name its layers list."""
    import tomllib

    contracts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    named: dict[str, set[str]] = {}
    for contract in contracts["contracts"]:
        if contract["type"] != "layers":
            continue
        for container in contract["containers"]:
            names = named.setdefault(container, set())
            for layer in contract["layers"]:
                names.update(part.strip() for part in layer.split("|"))
    return named


def unlisted(modules: set[str], named: dict[str, set[str]]) -> list[str]:
    """The modules that sit in a container with layers but in none of its layers (a module
    nobody placed can import anything its container holds), or in no container at all."""
    out = []
    for module in sorted(modules - {"transfer_gui"}):
        containers = [c for c in named if module.startswith(c + ".")]
        if not containers or any(module[len(c) + 1:].split(".")[0] not in named[c]
                                 for c in containers):
            out.append(module)
    return out


def test_every_module_is_in_a_layer():
    modules = set(grimp.build_graph("transfer_gui").modules)
    assert unlisted(modules, layer_lists()) == []


def test_layer_check_finds_an_unplaced_module():
    modules = set(grimp.build_graph("transfer_gui").modules)
    planted = {"transfer_gui.core.newpart", "transfer_gui.core.train.newpart.inner",
               "transfer_gui.ui.newpart"}
    assert unlisted(modules | planted, layer_lists()) == sorted(planted)
