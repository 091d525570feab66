"""The Model page's look-ups that may be slow (a network check, a run folder read), kept
apart from the page's widgets; `online` runs in a worker thread."""

from __future__ import annotations

from ...core import RunError, run_info


def run_classes(run: str | None) -> int:
    """How many classes a run was trained on (0 if unknown)."""
    try:
        return len(run_info(run).classes) if run else 0
    except RunError:
        return 0


def online(backbone: str, callbacks: list, cancel: object) -> bool:
    """Whether `backbone`'s download address can be reached (in a worker: DNS can be slow)."""
    from ...core import is_online, load_catalog

    entry = load_catalog().get(backbone)
    url = (entry.url or None) if entry is not None and entry.source != "timm" \
        else "https://huggingface.co"
    return url is None or is_online(url)
