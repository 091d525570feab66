"""The command line's words for a run of several tasks (a labels CSV's columns)."""

from __future__ import annotations

from typing import Any

from .console import print_confusion, table


def print_result(result: Any) -> None:
    """One single-label task's figures: accuracy, per-class scores, confusion matrix."""
    print(f"accuracy {result.accuracy:.2%}   balanced accuracy "
          f"{result.balanced_accuracy:.2%}   macro F1 {result.macro_f1:.3f}\n")
    table([[c["class"], f"{c['precision']:.3f}", f"{c['recall']:.3f}", f"{c['f1']:.3f}",
            c["support"]] for c in result.per_class()],
          ["class", "precision", "recall", "F1", "support"])
    print()
    print_confusion(result.classes, result.confusion.tolist())


def print_tasks(tasks: dict[str, dict[str, Any]]) -> None:
    """Every task's figures under its column name (`Evaluation.tasks_dict`)."""
    for name, figures in tasks.items():
        print(f"\ntask {name}")
        if figures["kind"] == "multi-label":
            print(f"mAP {figures['map']:.3f}   exact match {figures['exact_match']:.2%}\n")
            table([[r["label"], f"{r['precision']:.3f}", f"{r['recall']:.3f}", f"{r['f1']:.3f}",
                    f"{r['ap']:.3f}", f"{r['threshold']:.2f}", r["support"]]
                   for r in figures["per_label"]],
                  ["label", "precision", "recall", "F1", "AP", "threshold", "support"])
            continue
        print(f"accuracy {figures['accuracy']:.2%}   balanced accuracy "
              f"{figures['balanced_accuracy']:.2%}   macro F1 {figures['macro_f1']:.3f}\n")
        table([[c["class"], f"{c['precision']:.3f}", f"{c['recall']:.3f}", f"{c['f1']:.3f}",
                c["support"]] for c in figures["per_class"]],
              ["class", "precision", "recall", "F1", "support"])
        print()
        print_confusion(figures["classes"], figures["confusion"])


def task_rows(scan: Any) -> list[dict[str, Any]]:
    """A labels CSV's tasks with their classes and counts, for JSON."""
    from ..core import task_counts

    return [{"name": t.name, "multi_label": t.multi_label,
             "classes": [{"name": c, "count": n} for c, n in zip(t.classes, counts, strict=True)]}
            for t, counts in zip(scan.tasks, task_counts(scan), strict=True)]


def print_scan_tasks(scan: Any) -> None:
    """Each task of a labels CSV: its classes and how many images each has."""
    for row in task_rows(scan):
        kind = " (multi-label)" if row["multi_label"] else ""
        print(f"task {row['name']}{kind}")
        total = max(sum(c["count"] for c in row["classes"]), 1)
        table([[c["name"], c["count"], f"{100 * c['count'] / total:.1f} %"]
               for c in row["classes"]], ["class", "images", "share"])
        print()
