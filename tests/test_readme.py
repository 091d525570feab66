"""The README says what the code does: its command-line examples parse with the real parser,
every flag it names exists, its apt-get line is the one package list, and the messages that
name an optional extra give a command that works from a checkout."""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from pathlib import Path

import pytest

from transfer_gui.cli import build_parser
from transfer_gui.cli.main import COMMANDS
from transfer_gui.core import wording

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
APT_LIST = ROOT / "packaging" / "apt-packages.txt"
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
SPAN = re.compile(r"`([^`\n]+)`")


def code_blocks(text: str) -> list[str]:
    return FENCE.findall(text)


def prose(text: str) -> str:
    return FENCE.sub("", text)


def block_examples(text: str) -> list[str]:
    """Each `transfer-gui ...` command line of the code blocks (continued lines joined)."""
    out = []
    for block in code_blocks(text):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip().startswith("transfer-gui "):
                out.append(line.strip())
    return out


def span_examples(text: str) -> list[list[str]]:
    """Inline code of the prose that starts with `transfer-gui` or a command's name
    (`evaluate --all`), as words without the program's name."""
    out = []
    for span in SPAN.findall(prose(text)):
        words = span.split()
        if words and words[0] == "transfer-gui":
            words = words[1:]
        if words and words[0] in COMMANDS and any(w.lstrip("[").startswith("--") for w in words):
            out.append(words)
    return out


def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def flags_of(parser: argparse.ArgumentParser) -> set[str]:
    return {flag for action in parser._actions for flag in action.option_strings}


def command_of(argv: list[str]) -> str:
    """The sub-command the words run: a project file or folder means `gui`."""
    return argv[0] if argv and argv[0] in COMMANDS else "gui"


def flags_in(words: list[str]) -> list[str]:
    found = []
    for word in words:
        word = word.strip("[](),.;:")
        if word.startswith("--"):
            found.append(word.split("=")[0])
    return found


def unknown_flags(text: str) -> list[str]:
    """`command --flag` for every flag of a README example its command does not know."""
    parsers = subparsers()
    bad = []
    examples = [shlex.split(line, comments=True)[1:] for line in block_examples(text)]
    for words in [*examples, *span_examples(text)]:
        command = command_of(words)
        known = flags_of(parsers[command])
        bad += [f"{command} {flag}" for flag in flags_in(words) if flag not in known]
    return bad


def test_the_readme_has_command_line_examples_to_check():
    text = README.read_text()
    commands = {command_of(shlex.split(line, comments=True)[1:])
                for line in block_examples(text)}
    assert {"train", "evaluate", "predict", "export", "cache", "lr-find", "compare"} <= commands
    assert any(words[0] == "evaluate" and "--all" in words for words in span_examples(text))


def test_every_flag_of_a_readme_example_is_known_to_its_command():
    assert unknown_flags(README.read_text()) == []


def test_every_code_block_example_parses(capsys):
    parser = build_parser()
    for line in block_examples(README.read_text()):
        argv = shlex.split(line, comments=True)[1:]
        if command_of(argv) == "gui" and argv[:1] != ["gui"]:
            argv = ["gui", *argv]
        try:
            parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"{line}: {capsys.readouterr().err.strip()}")


def test_a_planted_unknown_flag_is_caught():
    """The check must be able to fail: a made-up flag in a code block, in a span, or a flag of
    another command (predict has no --batch-size)."""
    text = README.read_text()
    assert unknown_flags(text.replace("--csv predictions.csv", "--csv p.csv --colour red")) == [
        "predict --colour"]
    planted = text + "\nAlso `transfer-gui predict RUN x.jpg --batch-size 8`.\n"
    assert unknown_flags(planted) == ["predict --batch-size"]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["cache", "--clear", "--all"])


def test_every_command_but_gui_takes_json():
    """The README: "Every command except `gui` takes `--json`"."""
    assert "Every command except `gui` takes `--json`" in README.read_text()
    for name, parser in subparsers().items():
        assert ("--json" in flags_of(parser)) == (name != "gui"), name


def apt_list() -> list[str]:
    lines = APT_LIST.read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_the_readme_apt_line_installs_the_one_package_list():
    lines = re.findall(r"`sudo apt-get install ([^`]+)`", README.read_text())
    assert len(lines) == 1
    assert lines[0].split() == apt_list()
    assert {"python3-venv", "libglib2.0-0", "libxcb-icccm4", "libxcb-keysyms1",
            "libxcb-render-util0", "libxcb-shape0", "libxcb-cursor0"} <= set(apt_list())
    ci = (ROOT / ".ci" / "run").read_text()
    assert "packaging/apt-packages.txt" in ci and "libegl1" not in ci  # no second list


def test_build_requirements_match_what_the_project_declares():
    if sys.version_info < (3, 11):
        pytest.skip("tomllib is Python 3.11's")
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    requires = project["build-system"]["requires"]
    assert isinstance(project["project"]["license"], str)  # an SPDX expression: PEP 639
    assert "setuptools>=77" in requires  # the first setuptools that reads it
    dependencies = project["project"]["dependencies"]
    assert "torch>=2.6" in dependencies and "torchvision>=0.21" in dependencies
    assert "torch 2.6 or newer" in README.read_text()


def test_install_hints_give_the_checkout_form(monkeypatch, tmp_path):
    hint = wording.install_hint("onnx")
    assert hint == f'pip install -e ".[onnx]" (in {ROOT})'  # the tests run from a checkout
    installed = tmp_path / "site-packages" / "transfer_gui" / "core" / "wording.py"
    monkeypatch.setattr(wording, "__file__", str(installed))
    hint = wording.install_hint("tensorboard")
    assert hint.startswith('pip install "transfer-gui[tensorboard]"')
    assert 'pip install -e ".[tensorboard]"' in hint
