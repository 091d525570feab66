"""The Predict page's work apart from its widgets: the summary line, the images of dropped
folders (found in a worker thread) and pasted images saved as files."""

from __future__ import annotations

import time

from PySide6.QtGui import QImage

from ...core import count
from .predict_jobs import Result


def expand_paths(paths: list[str], callbacks: list, cancel: object) -> list[str]:
    """The images of dropped files and folders (in a worker: a folder can be large)."""
    from ...core import expand_inputs

    return expand_inputs(paths)


def summary_text(results: list[Result], batch: tuple[int, int], running: bool, stopped: bool,
                 threshold: float, where: str = "") -> str:
    """One line: how many, on which device, how far the batch got, the flags, the accuracy on
    labelled files."""
    from ...core import is_uncertain, labelled_score

    done = len(results) - batch[0]
    parts = [count(len(results), "image") + (f" {where}" if where else "")]
    if running and stopped:
        parts.append(f"stopping after {done} of {batch[1]}…")
    elif running:
        parts.append(f"classifying: {done} of {batch[1]}")
    elif stopped:
        parts.append(f"stopped after {done} of {batch[1]}")
    errors = sum(r.error is not None for r in results)
    if errors:
        parts.append(f"{errors} could not be read")
    uncertain = sum(is_uncertain(r.top_k, threshold) for r in results)
    if uncertain:
        parts.append(f"{uncertain} uncertain (top class under {threshold:.0%})")
    score = labelled_score([r.label for r in results], [r.truth for r in results])
    if score is not None:
        parts.append(f"<b>{score.text()}</b>")
    return " · ".join(parts)


def save_pasted(image: QImage) -> str:
    """A pasted image saved as a PNG file of its own (the results list shows files)."""
    from ...core import data_home

    folder = data_home() / "pasted"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"pasted-{time.strftime('%Y%m%d-%H%M%S')}-{id(image) % 10000}.png"
    image.save(str(path), b"PNG")
    return str(path)
