"""An evaluation written down: the headline, the per-class table and the confusion matrix, as
CSV or as one self-contained HTML page (the matrix drawn as an embedded PNG image).

The file's suffix decides the format:

- `.html` (or `.htm`): one page, nothing beside it (the matrix image is inside, base64);
- `.csv`: one row per true class with its precision, recall, F1, support and its row of the
  confusion matrix (one `predicted <class>` column per class), then an `accuracy` row (for
  single-label classes the overall precision, recall and F1 are all the accuracy; its
  `predicted` columns count the images predicted as each class) and a `macro average` row
  (the mean over the classes that have images, as the headline's macro F1).
"""

from __future__ import annotations

import base64
import csv
import html
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from ..atomic import write_text
from ..data.confusion import confusion_image
from ..errors import UserError
from ..wording import count

if TYPE_CHECKING:  # the evaluation itself needs torch; writing it down does not
    from .evaluation import Evaluation
    from .metrics import EvalResult

FORMATS = {".html": "html", ".htm": "html", ".csv": "csv"}


class ReportError(UserError):
    """A report that cannot be written as asked (an unknown suffix)."""


def report_format(path: str | os.PathLike[str]) -> str:
    """"html" or "csv", from the file's suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ReportError(f"{path}: a report is written as .html (one page with the matrix "
                          "as an image) or .csv (the per-class table with the matrix); "
                          f"not {suffix or 'a file without a suffix'}")
    return FORMATS[suffix]


def write_report(evaluation: Evaluation, path: str | os.PathLike[str], run: str = "") -> str:
    """Write `evaluation` to `path` as HTML or CSV (its suffix decides); the path written.
    `run` names the run evaluated (its folder) in the HTML page."""
    kind = report_format(path)
    text = report_html(evaluation, run) if kind == "html" else report_csv(evaluation.result)
    write_text(path, text)
    return str(path)


def headline(result: EvalResult) -> str:
    return (f"Accuracy {result.accuracy:.1%} · balanced accuracy "
            f"{result.balanced_accuracy:.1%} · macro F1 {result.macro_f1:.3f} · "
            f"{count(int(result.confusion.sum()), 'image')}")


def report_csv(result: EvalResult) -> str:
    """The per-class table with each class's row of the confusion matrix (see the module)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["class", "precision", "recall", "f1", "support",
                     *[f"predicted {c}" for c in result.classes]])
    matrix = result.confusion
    for scores, row in zip(result.per_class(), matrix.tolist(), strict=True):
        writer.writerow([scores["class"], *_scores(scores), scores["support"], *row])
    total = int(matrix.sum())
    accuracy = f"{result.accuracy:.4f}"
    writer.writerow(["accuracy", accuracy, accuracy, accuracy, total,
                     *matrix.sum(axis=0).tolist()])
    present = [s for s in result.per_class() if s["support"] > 0]
    macro = {k: float(np.mean([s[k] for s in present])) if present else 0.0
             for k in ("precision", "recall", "f1")}
    writer.writerow(["macro average", *_scores(macro), total])
    return out.getvalue()


def _scores(scores: dict) -> list[str]:
    return [f"{scores[k]:.4f}" for k in ("precision", "recall", "f1")]


def matrix_png(result: EvalResult) -> bytes:
    """The confusion matrix drawn as a PNG image."""
    image = Image.fromarray(confusion_image(result.confusion, result.classes))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#1d2330}
h1{font-size:1.4em}p.headline{font-size:1.2em;font-weight:600}
table{border-collapse:collapse;margin:1em 0}td,th{padding:.25em .7em;border-bottom:1px solid #dde}
td.n{text-align:right;font-variant-numeric:tabular-nums}.muted{color:#6a707a}"""


def report_html(evaluation: Evaluation, run: str = "") -> str:
    """One self-contained page: headline, per-class table and the matrix as an image."""
    result = evaluation.result
    e = html.escape
    name = os.path.basename(os.path.normpath(run)) if run else ""
    title = f"Evaluation of {name}" if name else "Evaluation"
    rows = "\n".join(
        f"<tr><td>{e(s['class'])}</td>"
        + "".join(f'<td class="n">{s[k]:.3f}</td>' for k in ("precision", "recall", "f1"))
        + f'<td class="n">{s["support"]}</td></tr>'
        for s in result.per_class())
    image = base64.b64encode(matrix_png(result)).decode("ascii")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>{STYLE}</style></head><body>
<h1>{e(title)}</h1>
<p class="headline">{e(headline(result))}</p>
<p class="muted">Evaluated on {e(evaluation.source)}.{_run_line(run)}</p>
<h2>Per class</h2>
<table><thead><tr><th>Class</th><th>Precision</th><th>Recall</th><th>F1</th><th>Support</th>
</tr></thead><tbody>
{rows}
</tbody></table>
<h2>Confusion matrix</h2>
<p class="muted">Rows are the true classes, columns the predicted ones; each cell is shaded
by its share of its row.</p>
<img src="data:image/png;base64,{image}" alt="confusion matrix">
{_problems(evaluation)}</body></html>
"""


def _run_line(run: str) -> str:
    return f" Run: {html.escape(run)}." if run else ""


def _problems(evaluation: Evaluation) -> str:
    skipped = [p for p in evaluation.problems if p.severity == "error"]
    if not skipped:
        return ""
    items = "\n".join(f"<li>{html.escape(p.path)}: {html.escape(p.reason)}</li>"
                      for p in skipped)
    return f"<h2>Skipped ({count(len(skipped), 'file')})</h2>\n<ul>\n{items}\n</ul>\n"
