"""The Model page's words: what the chosen freezing means, and when to warn about it."""

from __future__ import annotations

from ...core import Selection, format_count

CLASSIC_TEXT = {
    "logistic": "Logistic regression is fitted on the frozen backbone's features (its L2 "
                "strength picked on the validation split)",
    "knn": "k-nearest neighbours vote on the frozen backbone's features (k picked on the "
           "validation split)",
}


def summary_text(selection: Selection, strategy: str) -> str:
    if strategy in CLASSIC_TEXT:
        return (f"{CLASSIC_TEXT[strategy]}; no gradient reaches the network, so none of its "
                f"{format_count(selection.total)} parameters train.")
    scratch = " · starts from random weights" if strategy == "scratch" else ""
    return selection.summary() + scratch


def scratch_warning(selection: Selection, strategy: str) -> str:
    """From scratch, a frozen layer keeps its random initial weights for good. That is
    allowed (a random-features baseline), but never silently."""
    if strategy != "scratch" or not selection.frozen:
        return ""
    return (f"⚠ {format_count(selection.frozen)} frozen parameters keep their random starting "
            "values and never learn: the unticked layers pass on random features. Tick them to "
            "train them, or pick a pretrained preset.")
