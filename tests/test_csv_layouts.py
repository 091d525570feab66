"""CSV layouts people have: paths that lead out of the CSV's folder, absolute paths, an image
root, missing files named by line once per cause, and one message for a CSV that cannot train
from every tool (never "no class folders")."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from labelgen import two_task_set, write_csv
from transfer_gui.cli import main
from transfer_gui.core.data.labels import scan_data
from transfer_gui.core.data.scan import NO_CLASSES, NO_ROWS
from transfer_gui.core.data.trainable import untrainable_reason


def _rows(table: Path) -> tuple[list[str], list[list[str]]]:
    with open(table, newline="") as handle:
        header, *rows = list(csv.reader(handle))
    return header, rows


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """PROJECT/images/*.png and PROJECT/annotations/labels.csv naming them as ../images/…,
    the layout annotation tools export."""
    root = tmp_path_factory.mktemp("project")
    header, rows = _rows(two_task_set(root, per_pair=6))
    (root / "annotations").mkdir()
    write_csv(root / "annotations" / "labels.csv", header,
              [[f"../{r[0]}", *r[1:]] for r in rows])
    return root


def _errors(scan) -> list[str]:
    return [p.reason for p in scan.problems if p.severity == "error"]


def test_paths_may_lead_out_of_the_csv_folder(project):
    scan = scan_data(project / "annotations" / "labels.csv")
    assert _errors(scan) == [] and len(scan.samples) == 24
    assert all(Path(s.path).parent == project / "images" for s in scan.samples)
    assert untrainable_reason(scan) is None


def test_absolute_paths_work(project, tmp_path):
    header, rows = _rows(project / "labels.csv")
    table = write_csv(tmp_path / "absolute.csv", header,
                      [[str(project / r[0]), *r[1:]] for r in rows])
    scan = scan_data(table)
    assert _errors(scan) == [] and len(scan.samples) == 24


def test_image_root_reads_paths_from_another_folder(project, tmp_path):
    header, rows = _rows(project / "labels.csv")  # paths images/…, relative to PROJECT
    table = write_csv(tmp_path / "export.csv", header, rows)
    alone = scan_data(table)
    assert alone.samples == []
    [missing] = [p for p in alone.problems if p.severity == "error" and p.path != str(table)]
    assert "--image-root" in missing.reason and str(tmp_path) in missing.reason
    rooted = scan_data(table, image_root=project)
    assert _errors(rooted) == [] and len(rooted.samples) == 24
    assert main(["check-data", str(table), "--image-root", str(project)]) == 0


def test_missing_files_named_by_line_once_per_cause(project):
    header, rows = _rows(project / "labels.csv")
    few = [["images/gone_a.png", "red", "dark"], ["images/gone_b.png", "blue", "light"]]
    table = write_csv(project / "few.csv", header, rows[:6] + few)
    reasons = sorted(_errors(scan_data(table)))
    assert reasons[0].startswith("line 8: file not found: images/gone_a.png")
    assert reasons[1] == "line 9: file not found: images/gone_b.png"  # the hint said once
    many = [[f"images/gone_{i:03d}.png", "red", "dark"] for i in range(40)]
    table = write_csv(project / "many.csv", header, rows[:6] + many + rows[6:8])
    [reason] = _errors(scan_data(table))  # one problem for forty rows, not forty
    assert reason.startswith("lines 8, 9, 10 and 37 more rows (40 in all): file not found "
                             "(first: images/gone_000.png)")


@pytest.fixture(scope="module")
def broken(tmp_path_factory) -> Path:
    """A CSV none of whose rows names an existing file."""
    folder = tmp_path_factory.mktemp("broken")
    rows = [[f"pictures/{i}.png", "red" if i % 2 else "blue", "dark"] for i in range(12)]
    return write_csv(folder / "labels.csv", ["file", "ink", "backdrop"], rows)


def _said(capsys) -> str:
    return capsys.readouterr().err


def test_every_command_says_the_same_for_a_csv_that_cannot_train(broken, project, tmp_path,
                                                                 capsys):
    message = untrainable_reason(scan_data(broken))
    assert message is not None and NO_ROWS in message and "file not found" in message
    assert NO_CLASSES not in message
    assert main(["check-data", str(broken)]) != 0
    assert message in capsys.readouterr().out
    assert main(["check-data", str(broken), "--json"]) != 0
    capsys.readouterr()
    assert main(["train", str(broken), "--out", str(tmp_path / "run"), "--backbone",
                 "tiny_cnn", "--workers", "0"]) != 0
    assert _said(capsys) == f"error: {message}\n"
    assert main(["inspect", str(broken), "--backbone", "tiny_cnn"]) != 0
    assert _said(capsys) == f"error: {message}\n"
    run = tmp_path / "good"
    assert main(["train", str(project / "annotations" / "labels.csv"), "--task", "ink",
                 "--out", str(run), "--backbone", "tiny_cnn", "--epochs", "1",
                 "--workers", "0"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), str(broken)]) != 0
    assert _said(capsys) == f"error: {message}\n"


def test_a_csv_with_parent_paths_trains_two_tasks_and_evaluates_both(project, tmp_path,
                                                                    capsys):
    table = str(project / "annotations" / "labels.csv")
    run = tmp_path / "two"
    assert main(["train", table, "--out", str(run), "--backbone", "tiny_cnn", "--epochs", "2",
                 "--batch-size", "8", "--workers", "0", "--lr", "0.05"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), table, "--all", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert set(figures["tasks"]) == {"ink", "backdrop"}
    assert figures["problems"] == []
    # the same images listed from another folder, read through --image-root
    header, rows = _rows(project / "labels.csv")
    elsewhere = write_csv(tmp_path / "elsewhere.csv", header, rows)
    assert main(["evaluate", str(run), str(elsewhere), "--image-root", str(project),
                 "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["tasks"]["ink"]["accuracy"] == pytest.approx(figures["tasks"]["ink"]["accuracy"])
