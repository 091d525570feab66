"""Counting words in messages: "1 image", "2 images", "1 class", "3 classes"; numbers with
their units ("3.4 M", "45 s", "99.6 %"), joined by a non-breaking space so that a wrapped
line never leaves a unit without its number; and the command that installs an optional
extra."""

from __future__ import annotations

import re
from pathlib import Path

NBSP = "\u00a0"


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
    """"45 s", "3 min 07 s", "2 h 05 min" (each number bound to its unit)."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}{NBSP}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}{NBSP}min {seconds:02d}{NBSP}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}{NBSP}h {minutes:02d}{NBSP}min"


def require_packages(packages: tuple[str, ...], extra: str, needs: str) -> None:
    """A clear `UserError` when one of `packages` (the optional `extra`) is missing: "`needs`
    the NAME package, which is not installed; install it with: ..."."""
    import importlib

    from .errors import UserError

    for name in packages:
        try:
            importlib.import_module(name)
        except ImportError:
            raise UserError(f"{needs} the {name} package, which is not installed; install it "
                            f"with: {install_hint(extra)}") from None


def install_hint(extra: str) -> str:
    """The command that adds the optional `extra` (tensorboard, onnx) to this installation:
    from a checkout of the project (the source folder holds pyproject.toml) the editable
    install there, else the package index's form, with the checkout form beside it."""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file():
        return f'pip install -e ".[{extra}]" (in {root})'
    return (f'pip install "transfer-gui[{extra}]" (from a checkout of the project: '
            f'pip install -e ".[{extra}]")')


def format_count(n: int) -> str:
    """A parameter count: "3.4 M", "12.8 k", "928"."""
    if n >= 1e6:
        return f"{n / 1e6:.1f}{NBSP}M"
    if n >= 1e3:
        return f"{n / 1e3:.1f}{NBSP}k"
    return str(n)


def share(part: int, total: int) -> str:
    """`part` of `total` in percent, one decimal where it matters: "100 %" only when all of
    it, "0 %" only when none; "> 99.9 %" and "< 0.1 %" for what would round to them;
    whole numbers without a decimal ("25 %"), else one ("99.6 %")."""
    if total <= 0 or part <= 0:
        return f"0{NBSP}%"
    if part >= total:
        return f"100{NBSP}%"
    value = 100.0 * part / total
    text = f"{value:.1f}"
    if text == "100.0":
        return f">{NBSP}99.9{NBSP}%"
    if text == "0.0":
        return f"<{NBSP}0.1{NBSP}%"
    return f"{text.removesuffix('.0') if value == round(value) else text}{NBSP}%"


def name_ranges(names: list[str]) -> str:
    """Group names with runs of numbered ones joined: ["stem", "stage1", "stage2", "stage3",
    "top"] -> "stem, stages 1-3, top"."""
    parts: list[str] = []
    run: list[tuple[str, int]] = []

    def close() -> None:
        if len(run) == 1:
            parts.append(f"{run[0][0]}{run[0][1]}")
        elif run:
            parts.append(f"{plural(run[0][0])} {run[0][1]}-{run[-1][1]}")
        run.clear()

    for name in names:
        match = re.fullmatch(r"([a-z_]+?)(\d+)", name)
        if match is None:
            close()
            parts.append(name)
            continue
        stem, number = match.group(1), int(match.group(2))
        if run and (run[-1][0] != stem or run[-1][1] + 1 != number):
            close()
        run.append((stem, number))
    close()
    return ", ".join(parts)


def fine_tune_top_words(name: str, trained: str, count_trained: int, body: int, auto: bool,
                        top_share: float) -> str:
    """What the strategy `name` (the fine-tune strategy's, from the recipe schema) trains:
    "<name> trains the top half of the network's 9 layer groups: stages 5-7, top (and the
    head)"."""
    if auto:
        part = "half" if top_share == 0.5 else f"{top_share:.0%}".replace("%", NBSP + "%")
        which = f"the top {part} of the network's {count(body, 'layer group')}"
    else:
        which = f"the top {count(count_trained, 'layer group')} of {body}"
    if not count_trained:
        return f"{name} trains only the head here: no layer group is unfrozen"
    return f"{name} trains {which}: {trained} (and the head)"
