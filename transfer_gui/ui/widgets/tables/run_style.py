"""How runs are named, coloured and their numbers written wherever they are compared."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtGui import QColor, QIcon, QPixmap

from ....core import STRATEGY_NAMES, human_duration

# Matplotlib's "tab10": distinct on white and for the common colour-vision deficiencies.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
_STAMP = re.compile(r"^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})-(.+)$")


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def swatch(tint: str) -> QIcon:
    """A small square of the run's colour, to tie list, table and curves together."""
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor(tint))
    return QIcon(pixmap)


def run_label(run_dir: str) -> str:
    """A short, readable name that tells runs apart where it is cut: "fine-tune · 14:02 ·
    efficientnet_lite0" for a run folder made by the app (what differs between a project's
    runs first, the backbone they mostly share last), "knn · compare 14:10" for a run of a
    strategy comparison."""
    path = Path(run_dir)
    own = _STAMP.match(path.name)
    if own:
        backbone, strategy = _split_name(own.group(7))
        when = f"{own.group(4)}:{own.group(5)}"
        return f"{strategy} · {when} · {backbone}" if strategy else f"{backbone} · {when}"
    parent = _STAMP.match(path.parent.name)
    if parent and parent.group(7) == "compare":
        return f"{path.name} · compare {parent.group(4)}:{parent.group(5)}"
    return path.name or str(path)


def _split_name(name: str) -> tuple[str, str]:
    """"efficientnet_lite0-fine-tune" -> ("efficientnet_lite0", "fine-tune"); a name that
    ends with no strategy's name stays whole."""
    for strategy in sorted(STRATEGY_NAMES, key=len, reverse=True):
        if name.endswith(f"-{strategy}"):
            return name[: -len(strategy) - 1], strategy
    return name, ""


def percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def score(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def count(n: int | None) -> str:
    if n is None:
        return "–"
    if n >= 1e9:
        return f"{n / 1e9:.1f} B"
    if n >= 1e6:
        return f"{n / 1e6:.1f} M"
    return f"{n / 1e3:.1f} k" if n >= 1e3 else str(n)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds:.1f} s" if seconds < 60 else human_duration(seconds)
