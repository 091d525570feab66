"""`evaluate --report`: the headline, per-class table and confusion matrix written as one
self-contained HTML page or as CSV; the terminal's confusion matrix names its columns."""

from __future__ import annotations

import base64
import csv
import io
import re

import pytest
from PIL import Image

from imagegen import make_dataset
from transfer_gui.cli import main
from transfer_gui.cli.console import print_confusion
from transfer_gui.core.analysis.evaluation import evaluate_run


@pytest.fixture()
def run(probe_run) -> str:
    """A linear probe of 2 epochs at 32 px on the shapes (trained once, this test's copy)."""
    return str(probe_run)


@pytest.fixture(scope="module")
def hard(tmp_path_factory):
    """A test folder whose colours say nothing about the class: mistakes for the matrix."""
    return make_dataset(tmp_path_factory.mktemp("hard"), per_class=8, size=32, seed=5,
                        any_colour=True)


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_html_report_holds_the_headline_every_class_and_the_matrix(run, hard, tmp_path,
                                                                         capsys):
    path = tmp_path / "report.html"
    code, out, _ = cli(capsys, "evaluate", run, str(hard), "--report", str(path))
    assert code == 0 and f"report written to {path}" in out
    result = evaluate_run(run, str(hard)).result
    page = path.read_text(encoding="utf-8")
    assert f"Accuracy {result.accuracy:.1%}" in page
    assert f"macro F1 {result.macro_f1:.3f}" in page
    for scores in result.per_class():
        cells = "".join(f'<td class="n">{scores[k]:.3f}</td>'
                        for k in ("precision", "recall", "f1"))
        assert f"<tr><td>{scores['class']}</td>{cells}" \
               f'<td class="n">{scores["support"]}</td></tr>' in page
    found = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(found) == 1
    image = Image.open(io.BytesIO(base64.b64decode(found[0])))
    assert image.format == "PNG" and image.width > 100 and image.height > 100
    assert "src=\"http" not in page and "<link" not in page  # nothing fetched from elsewhere


def test_the_csv_report_has_the_per_class_rows_and_the_matrix(run, hard, tmp_path, capsys):
    path = tmp_path / "report.csv"
    code, _, _ = cli(capsys, "evaluate", run, str(hard), "--report", str(path))
    assert code == 0
    result = evaluate_run(run, str(hard)).result
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert [r["class"] for r in rows] == [*result.classes, "accuracy", "macro average"]
    for row, scores, counts in zip(rows, result.per_class(), result.confusion, strict=False):
        for key in ("precision", "recall", "f1"):
            assert float(row[key]) == pytest.approx(scores[key], abs=1e-4)
        assert int(row["support"]) == scores["support"] == counts.sum()
        assert [int(row[f"predicted {c}"]) for c in result.classes] == counts.tolist()
    accuracy, macro = rows[-2], rows[-1]
    assert float(accuracy["recall"]) == pytest.approx(result.accuracy, abs=1e-4)
    assert int(accuracy["support"]) == 24
    assert float(macro["f1"]) == pytest.approx(result.macro_f1, abs=1e-4)


def test_an_unknown_report_suffix_is_refused_before_evaluating(run, hard, tmp_path, capsys):
    code, out, err = cli(capsys, "evaluate", run, str(hard), "--report",
                         str(tmp_path / "report.txt"))
    assert code != 0 and "evaluated on" not in out
    assert ".html" in err and ".csv" in err and "not .txt" in err
    assert not (tmp_path / "report.txt").exists()


def test_the_printed_matrix_names_its_columns(run, hard, capsys):
    code, out, _ = cli(capsys, "evaluate", run, str(hard))
    assert code == 0
    lines = out.splitlines()
    header = lines[lines.index(next(x for x in lines if x.startswith("confusion matrix"))) + 1]
    assert header.split() == ["true", "\\", "predicted", "circle", "square", "triangle"]


def test_a_matrix_too_wide_for_the_terminal_numbers_its_columns_with_a_legend():
    names = [f"a long class name {i}" for i in range(6)]
    matrix = [[i * 6 + j for j in range(6)] for i in range(6)]
    out = io.StringIO()
    print_confusion(names, matrix, out, width=80)
    lines = out.getvalue().splitlines()
    assert lines[1].split()[3:] == ["0", "1", "2", "3", "4", "5"]
    assert lines[3].startswith("0 a long class name 0")
    assert lines[-1] == "columns: " + ", ".join(f"{i} = {n}" for i, n in enumerate(names))
    out = io.StringIO()
    print_confusion(names, matrix, out, width=200)  # a wide terminal: the names themselves
    assert out.getvalue().splitlines()[1].split("  ")[-1] == "a long class name 5"
