"""Labels from a CSV: errors by line, a stratified saved split, several tasks on one body
(each learnt from its own cue), an exact resume, per-task evaluation, prediction and export."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from labelgen import tag_set, two_task_set, write_csv
from runhelpers import StopAfter, tiny_config
from transfer_gui.cli import main
from transfer_gui.core.analysis.evaluation import evaluate_run
from transfer_gui.core.analysis.predict import Predictor
from transfer_gui.core.analysis.tasks import LabelTable, average_precision
from transfer_gui.core.config import ConfigError
from transfer_gui.core.data.labels import scan_data, task_counts
from transfer_gui.core.data.scan import DataError
from transfer_gui.core.data.split import training_split
from transfer_gui.core.events import CancelToken
from transfer_gui.core.io import bundle
from transfer_gui.core.io.export import EXPORT_SUFFIXES, export_run
from transfer_gui.core.train.loop import fit


@pytest.fixture(scope="module")
def two_tasks(tmp_path_factory) -> Path:
    """labels.csv with `ink` (the shape's colour) and `backdrop` (the background's
    brightness), independent of each other."""
    return two_task_set(tmp_path_factory.mktemp("two"), per_pair=8).parent


@pytest.fixture(scope="module")
def held_out(tmp_path_factory) -> Path:
    return two_task_set(tmp_path_factory.mktemp("held"), per_pair=5, seed=7)


def _config(data, strategy="fine-tune", **train):
    train.setdefault("probe_first", False)
    train.setdefault("lr", 0.03)
    train.setdefault("epochs", 2)
    train.setdefault("num_workers", 0)
    return tiny_config(data, strategy, **train)


@pytest.fixture(scope="module")
def two_task_run(two_tasks, tmp_path_factory) -> Path:
    """A linear probe with two heads, trained on the body's cached features."""
    out = tmp_path_factory.mktemp("runs") / "two"
    result = fit(_config(two_tasks, "linear-probe", lr=0.1, epochs=6), out)
    assert result.status == "completed"
    return out


def test_csv_errors_are_named_by_line(tmp_path):
    two_task_set(tmp_path, per_pair=2)
    (tmp_path / "images" / "broken.png").write_bytes(b"not an image")
    rows = [["images/red_dark_00.png", "red", "dark"],     # line 2: fine
            ["images/missing.png", "red", "dark"],         # 3
            ["images/red_dark_01.png", "", "dark"],        # 4: empty label
            ["../elsewhere.png", "red", "dark"],           # 5: outside the folder, missing
            ["images/blue_dark_00.png", "blue", "dark", "x"],  # 6: a cell of no column
            ["images/broken.png", "blue", "light"],        # 7: not an image
            ["images/blue_light_00.png", "blue", "light"],  # 8
            ["images/red_dark_00.png", "red", "dark"]]     # 9: line 2 again
    table = write_csv(tmp_path / "bad.csv", ["file", "ink", "backdrop"], rows)
    scan = scan_data(table)
    reasons = {p.reason.split(":")[0]: p for p in scan.problems if p.severity == "error"}
    assert set(reasons) == {f"line {n}" for n in (3, 4, 5, 6, 7, 9)}
    assert "file not found" in reasons["line 3"].reason
    assert "empty label in column 'ink'" in reasons["line 4"].reason
    assert "file not found: ../elsewhere.png" in reasons["line 5"].reason
    assert "unknown column" in reasons["line 6"].reason
    assert reasons["line 7"].path.endswith("broken.png")
    assert "same file as line 2" in reasons["line 9"].reason
    assert [len(s.targets) for s in scan.samples] == [2, 2]  # lines 2 and 8 are used
    warnings = [p.reason for p in scan.problems if p.severity == "warning"]
    assert any("line 2: class 'red' of column 'ink' has a single image" in w for w in warnings)
    with pytest.raises(DataError, match="line 1: unknown column 'colour'"):
        scan_data(table, task="colour")


def test_csv_scan_tasks_split_and_weights(two_tasks):
    scan = scan_data(two_tasks)  # the folder's labels.csv
    assert [(t.name, t.classes) for t in scan.tasks] == [("ink", ("blue", "red")),
                                                         ("backdrop", ("dark", "light"))]
    assert task_counts(scan) == [[16, 16], [16, 16]]
    one = scan_data(two_tasks / "labels.csv", task="backdrop")
    assert one.classes == ["dark", "light"] and not one.samples[0].targets
    _, val = training_split(scan, 0.25, seed=3)
    again = training_split(scan_data(two_tasks), 0.25, seed=3)
    assert [s.path for s in val] == [s.path for s in again[1]]  # reproducible
    assert sorted(s.label for s in val) == [0, 0, 0, 0, 1, 1, 1, 1]  # stratified on `ink`
    with pytest.raises(ConfigError, match="no task is named 'colour'"):
        fit(dataclasses.replace(_config(two_tasks), train=dataclasses.replace(
            _config(two_tasks).train, task_weights="colour=2")), two_tasks.parent / "never")


def test_two_tasks_each_learnt_from_its_own_cue(two_task_run, held_out):
    meta = bundle.read_meta(two_task_run)
    assert [t["name"] for t in meta["tasks"]] == ["ink", "backdrop"]
    for row in meta["history"]:  # each task's validation accuracy; their mean is val_acc
        assert list(row["task_acc"]) == ["ink", "backdrop"]
        assert np.mean(list(row["task_acc"].values())) == pytest.approx(row["val_acc"])
    _, val = bundle.load_split(two_task_run)
    assert val and all(len(s.targets) == 2 for s in val)
    evaluation = evaluate_run(two_task_run, str(held_out), device="cpu")
    accuracy = {name: r.accuracy for name, r in evaluation.tasks.items()}
    print("held-out accuracy per task:", accuracy)
    assert accuracy["ink"] >= 0.9 and accuracy["backdrop"] >= 0.9
    figures = evaluation.tasks_dict()
    assert figures["ink"]["classes"] == ["blue", "red"] and figures["backdrop"]["per_class"]
    predictor = Predictor.from_run(two_task_run, device="cpu")
    [p] = predictor.predict_paths([str(held_out.parent / "images" / "red_light_00.png")])
    assert {n: a[0]["label"] for n, a in p.tasks.items()} == {"ink": "red",
                                                              "backdrop": "light"}


def test_lpft_with_two_heads(two_tasks, tmp_path):
    """The probe trains both heads on cached features, then the body fine-tunes under them."""
    result = fit(_config(two_tasks, probe_first=True, epochs=2), tmp_path / "lpft")
    assert result.status in ("completed", "early-stopped")
    meta = bundle.read_meta(tmp_path / "lpft")
    assert meta["history"][0]["val_acc"] is not None and len(meta["tasks"]) == 2
    assert bundle.load_run(tmp_path / "lpft").model.head.names == ["ink", "backdrop"]


def test_two_task_run_resumes_exactly(two_tasks, tmp_path):
    config = _config(two_tasks, epochs=2)
    fit(config, tmp_path / "whole")
    token = CancelToken()
    assert fit(config, tmp_path / "cut", [StopAfter(token, 1)], token).status == "cancelled"
    assert fit(None, tmp_path / "cut", resume=True).status == "completed"
    whole, cut = (bundle.read_meta(tmp_path / n) for n in ("whole", "cut"))
    assert cut["tasks"] == whole["tasks"]
    for a, b in zip(whole["history"], cut["history"], strict=True):
        assert a["val_loss"] == pytest.approx(b["val_loss"], abs=1e-6)
        assert a["train_loss"] == pytest.approx(b["train_loss"], abs=1e-6)
    ours, theirs = (load_file(str(tmp_path / n / bundle.WEIGHTS)) for n in ("whole", "cut"))
    assert {k for k in ours if k.startswith("head.")} == {
        "head.heads.0.weight", "head.heads.0.bias", "head.heads.1.weight", "head.heads.1.bias"}
    assert max(float((ours[k] - theirs[k]).abs().max()) for k in ours) < 1e-6


@pytest.mark.parametrize("fmt", ["onnx", "torch-export", "torchscript"])
def test_export_gives_one_named_output_per_task(two_task_run, tmp_path, fmt):
    result = export_run(two_task_run, tmp_path / f"model{EXPORT_SUFFIXES[fmt]}", fmt)
    assert result.outputs == ("ink", "backdrop") and result.images > 0
    x = torch.rand(3, 3, 32, 32)
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(result.path))
        names = [o.name for o in session.get_outputs()]
        shapes = [v.shape for v in session.run(names, {"images": x.numpy()})]
    else:
        with open(result.path, "rb") as handle:
            module = (torch.jit.load(handle) if fmt == "torchscript"
                      else torch.export.load(handle).module())
        out = module(x)
        names, shapes = list(out), [tuple(v.shape) for v in out.values()]
    assert names == ["ink", "backdrop"] and [tuple(s) for s in shapes] == [(3, 2), (3, 2)]


def test_multi_label_beats_all_negative_on_map(tmp_path):
    table = tag_set(tmp_path, count=40)
    scan = scan_data(table)
    [tags] = scan.tasks
    assert tags.multi_label and tags.classes == ("blue", "green", "red")
    out = tmp_path / "run"
    assert fit(_config(table, "linear-probe", lr=0.1, epochs=6), out).status == "completed"
    held = tag_set(tmp_path / "held", count=24, seed=5)
    table_result = evaluate_run(out, str(held), device="cpu").tasks["tags"]
    assert isinstance(table_result, LabelTable)
    # an all-negative predictor scores every label alike: its AP is the label's prevalence
    baseline = float(table_result.truth.mean(axis=0).mean())
    print(f"multi-label mAP {table_result.mean_ap:.3f} vs all-negative {baseline:.3f}, "
          f"exact match {table_result.exact_match:.2f}")
    assert table_result.mean_ap >= baseline + 0.25
    assert {r["label"] for r in table_result.per_label()} == {"blue", "green", "red"}
    stored = bundle.read_meta(out)["thresholds"]["tags"]  # chosen on validation, kept
    assert len(stored) == 3 and all(0 < t < 1 for t in stored)
    [p] = Predictor.from_run(out, device="cpu").predict_paths([str(tmp_path / "images" /
                                                                   "tags_000.png")])
    listed = p.tasks["tags"]
    assert all(a["probability"] >= stored[tags.classes.index(a["label"])] for a in listed)


def test_average_precision_by_hand():
    truth = np.array([1, 0, 1, 0], dtype=bool)
    assert average_precision(truth, np.array([0.9, 0.8, 0.7, 0.1])) == pytest.approx(
        (1 + 2 / 3) / 2)
    assert average_precision(truth, np.array([0.9, 0.1, 0.8, 0.2])) == 1.0


def test_cli_trains_evaluates_and_predicts_a_csv(two_tasks, two_task_run, capsys, tmp_path):
    table = str(two_tasks / "labels.csv")
    assert main(["check-data", table, "--json"]) == 0
    checked = json.loads(capsys.readouterr().out)
    assert [t["name"] for t in checked["tasks"]] == ["ink", "backdrop"]
    assert main(["evaluate", str(two_task_run), table, "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)["tasks"]
    assert set(figures) == {"ink", "backdrop"} and figures["ink"]["accuracy"] >= 0.5
    image = str(two_tasks / "images" / "blue_dark_00.png")
    assert main(["predict", str(two_task_run), image, "--json"]) == 0
    [answer] = json.loads(capsys.readouterr().out)
    assert set(answer["tasks"]) == {"ink", "backdrop"}
    out = tmp_path / "one"
    assert main(["train", table, "--task", "backdrop", "--out", str(out), "--backbone",
                 "tiny_cnn", "--epochs", "1", "--batch-size", "8", "--workers", "0"]) == 0
    meta = bundle.read_meta(out)
    assert meta["classes"] == ["dark", "light"] and meta["config"]["data"]["task"] == "backdrop"
    capsys.readouterr()
    assert main(["predict", str(out), image, "--json"]) == 0
    [answer] = json.loads(capsys.readouterr().out)
    assert {a["label"] for a in answer["top_k"]} == {"dark", "light"} and "tasks" not in answer


def test_compare_gives_each_task_its_score(two_task_run):
    from transfer_gui.core.analysis.compare import run_summary

    row = run_summary(two_task_run)
    assert list(row["tasks"]) == ["ink", "backdrop"]
    assert all(0.5 <= v <= 1 for v in row["tasks"].values())
