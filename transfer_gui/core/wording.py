"""Counting words in messages: "1 image", "2 images", "1 class", "3 classes"; durations; and
the command that installs an optional extra."""

from __future__ import annotations

from pathlib import Path


def plural(noun: str) -> str:
    """The regular English plural of `noun` (what the messages here need; "epoch" ends in a
    hard "ch", so only "-tch" takes "-es")."""
    if noun.endswith(("s", "x", "sh", "tch")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "i", "o", "u"):
        return noun[:-1] + "ies"
    return noun + "s"


def count(n: int, noun: str, many: str | None = None) -> str:
    """`n` followed by `noun`, in the plural unless `n` is 1 ("1 epoch", "0 epochs");
    `many` gives an irregular plural."""
    return f"{n} {noun if n == 1 else many or plural(noun)}"


def human_duration(seconds: float) -> str:
    """"45 s", "3 min 07 s", "2 h 05 min"."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def install_hint(extra: str) -> str:
    """The command that adds the optional `extra` (tensorboard, onnx) to this installation:
    from a checkout of the project (the source folder holds pyproject.toml) the editable
    install there, else the package index's form, with the checkout form beside it."""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file():
        return f'pip install -e ".[{extra}]" (in {root})'
    return (f'pip install "transfer-gui[{extra}]" (from a checkout of the project: '
            f'pip install -e ".[{extra}]")')
