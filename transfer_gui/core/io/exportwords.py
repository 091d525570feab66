"""What an exported model gives, output by output: one output of class logits for a folder of
classes, or one named output per task of a labels CSV. A multi-label task's output holds one
logit per label (a label is present when its sigmoid reaches the label's threshold, chosen on
the run's validation split). The export's words, its `NAME.preprocess.json` and its metadata
all come from here, so they cannot disagree with the file's outputs."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..data.labels import LabelTask, needs_targets
from ..wording import count
from .bundle import meta_tasks
from .exportformats import INPUT, OUTPUT
from .runmeta import read_meta

NAMES_SHOWN = 12  # class names listed in a sentence; the side files list them all
DEFAULT_THRESHOLD = 0.5  # a multi-label task's cut when the run has none chosen


@dataclass(frozen=True)
class ExportedOutput:
    """One output of an exported model: its name in the file and what its columns mean."""

    name: str
    classes: tuple[str, ...]
    task: str = ""  # the labels CSV's column ("" for a folder of classes)
    multi_label: bool = False
    thresholds: tuple[float, ...] = ()  # multi-label: each label's cut on its sigmoid

    def text(self, named: bool = True) -> str:
        """What it holds, after its name unless `named` is False."""
        names = class_names(self.classes)
        head = f"{self.name}: " if named else ""
        if self.multi_label:
            return (f"{head}a logit for each of {count(len(self.classes), 'label')} "
                    f"({names}; a label is present when its sigmoid reaches its threshold)")
        return f"{head}logits for {count(len(self.classes), 'class')} ({names})"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "task": self.task,
                               "multi_label": self.multi_label, "classes": list(self.classes),
                               "activation": "sigmoid" if self.multi_label else "softmax"}
        if self.multi_label:
            out["thresholds"] = list(self.thresholds)
        return out


def class_names(classes: Sequence[str]) -> str:
    """The names, the first `NAMES_SHOWN` of a long list and how many more."""
    shown = ", ".join(classes[:NAMES_SHOWN])
    more = len(classes) - NAMES_SHOWN
    return f"{shown}, … ({more} more)" if more > 0 else shown


def output_name(task: str) -> str:
    """A task's output name: its column, or `COLUMN_logits` for one named like the input."""
    return f"{task}_logits" if task == INPUT else task


def exported_outputs(classes: Sequence[str], tasks: Sequence[LabelTask],
                     thresholds: dict[str, Any] | None = None) -> list[ExportedOutput]:
    """The outputs of a run's export: `logits` for one single-label task or a folder, else one
    per task (the model then has a head per task), with each multi-label task's thresholds."""
    if not needs_targets(tasks):
        return [ExportedOutput(OUTPUT, tuple(classes), tasks[0].name if tasks else "")]
    cuts = thresholds or {}
    return [ExportedOutput(output_name(t.name), t.classes, t.name, t.multi_label,
                           _cuts(cuts.get(t.name), len(t.classes)) if t.multi_label else ())
            for t in tasks]


def _cuts(stored: Any, n: int) -> tuple[float, ...]:
    if isinstance(stored, list) and len(stored) == n:
        return tuple(float(v) for v in stored)
    return (DEFAULT_THRESHOLD,) * n


def input_text(image_size: int) -> str:
    s = image_size
    return (f"RGB images of {s} × {s} pixels, values in [0, 1] (a tensor of shape N × 3 × {s} "
            f"× {s}; the model normalises them itself)")


def outputs_text(outputs: Sequence[ExportedOutput]) -> str:
    """The outputs in words: "output: logits for 3 classes (a, b, c)", or one per task."""
    if len(outputs) == 1 and not outputs[0].multi_label and outputs[0].name == OUTPUT:
        return f"output: {outputs[0].text(named=False)}"
    return f"{count(len(outputs), 'output')}: " + "; ".join(o.text() for o in outputs)


def export_description(run_dir: str | os.PathLike[str]) -> str:
    """What an export of the run folder takes and gives, in words (from its `run.json`)."""
    meta = read_meta(run_dir)
    size = int((meta.get("preprocess") or {}).get("image_size") or 0)
    outputs = exported_outputs([str(c) for c in meta["classes"] or ()], meta_tasks(meta),
                               meta.get("thresholds") if isinstance(meta.get("thresholds"),
                                                                    dict) else None)
    return f"{input_text(size)}; {outputs_text(outputs)}"
