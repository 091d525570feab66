"""The Model page's words: what the chosen freezing means, and when to warn about it."""

from __future__ import annotations

from ..engine import ModelStructure

CLASSIC_TEXT = {
    "logistic": "Logistic regression is fitted on the frozen backbone's features (its L2 "
                "strength picked on the validation split)",
    "knn": "k-nearest neighbours vote on the frozen backbone's features (k picked on the "
           "validation split)",
}


def summary_text(structure: ModelStructure, strategy: str) -> str:
    from ...core import format_count, summary

    if strategy in CLASSIC_TEXT:
        total = sum(structure.sizes.values())
        return (f"{CLASSIC_TEXT[strategy]}; no gradient reaches the network, so none of its "
                f"{format_count(total)} parameters train.")
    scratch = " · starts from random weights" if strategy == "scratch" else ""
    return summary(structure.model) + scratch


def scratch_warning(structure: ModelStructure, strategy: str) -> str:
    """From scratch, a frozen layer keeps its random initial weights for good. That is
    allowed (a random-features baseline), but never silently."""
    from ...core import format_count

    frozen = sum(p.numel() for p in structure.model.parameters() if not p.requires_grad)
    if strategy != "scratch" or not frozen:
        return ""
    return (f"⚠ {format_count(frozen)} frozen parameters keep their random starting values "
            "and never learn: the unticked layers pass on random features. Tick them to train "
            "them, or pick a pretrained preset.")
