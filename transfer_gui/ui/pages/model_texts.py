"""The Model page's words: the backbone's facts, what the chosen freezing means, and when to
warn about it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...core import PRETRAINING_TEXT, Selection, count, format_count

if TYPE_CHECKING:
    from ...core import ModelLayout
    from ..engine_loader import BackboneRow

NBSP = "\u00a0"

# where a backbone's weights come from, as its row's tooltip and the weights line say it
WEIGHTS_TIP = {
    "bundled": "Installed with the app: works offline",
    "cached": "Downloaded before: works offline",
    "download": "Downloaded on first use into torch's or Hugging Face's cache (needs "
                "internet once)",
    "file": "Loaded from a file you chose",
    "none": "No pretrained weights",
}

CLASSIC_TEXT = {
    "logistic": "Logistic regression is fitted on the frozen backbone's features (its L2 "
                "strength picked on the validation split)",
    "knn": "k-nearest neighbours vote on the frozen backbone's features (k picked on the "
           "validation split)",
}


def summary_text(selection: Selection, strategy: str, top: str = "") -> str:
    """What trains; `top` says what the fine-tune strategy trains on this backbone."""
    if strategy in CLASSIC_TEXT:
        return (f"{CLASSIC_TEXT[strategy]}; no gradient reaches the network, so none of its "
                f"{format_count(selection.total)} parameters train.")
    scratch = " · starts from random weights" if strategy == "scratch" else ""
    return (f"{top}.<br>" if top else "") + selection.summary() + scratch


def scratch_warning(selection: Selection, strategy: str) -> str:
    """From scratch, a frozen layer keeps its random initial weights for good. That is
    allowed (a random-features baseline), but never silently."""
    if strategy != "scratch" or not selection.frozen:
        return ""
    return (f"⚠ {format_count(selection.frozen)} frozen parameters keep their random starting "
            "values and never learn: the unticked layers pass on random features. Tick them to "
            "train them, or pick a pretrained preset.")


def backbone_facts(info: BackboneRow, layout: ModelLayout | None) -> str:
    """The backbone in one line. Its catalogued size counts its ImageNet classifier, which a
    run replaces with a new head for the project's classes: once the network is described,
    say both, so that the tree's total adds up."""
    top1 = f", {info.top1:.1f}{NBSP}% ImageNet top-1" if info.top1 else ""
    top1 += f", {info.speed:.0f}{NBSP}images/s here" if info.speed else ""
    size = f"{format_count(info.params)} parameters" if info.params else "size not known"
    if layout is not None and layout.backbone == info.name:
        head = sum(layer.size for layer in layout.layers if layer.name == "head")
        body = layout.total - head
        new_head = (f"a new head for {count(layout.num_classes, 'class')} "
                    f"({format_count(head)})")
        if info.params > body:
            size = (f"{format_count(info.params)} parameters with its ImageNet head; "
                    f"{format_count(body)} without it + {new_head}")
        else:
            size = f"{format_count(body)} parameters + {new_head}"
    origin = f" ({info.source}, {PRETRAINING_TEXT.get(info.pretraining, info.pretraining)})"
    return (f"<b>{info.title}</b>{origin}: {size}, {info.image_size}{NBSP}px input{top1}. "
            f"{info.description}")

