"""What the command line says when something is wrong or done: a usage error before torch
loads, the user's own path in a write error, a missing folder, data nothing can train on, a
review's unknown action, a labels CSV to inspect, a closed pipe, the processes of a torchrun
and balanced accuracy per task."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from labelgen import two_task_set, write_csv
from transfer_gui.cli import main
from transfer_gui.cli.tasks import print_tasks

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def copy_images(src: Path, dst: Path, n: int) -> None:
    dst.mkdir(parents=True)
    for image in sorted(src.iterdir())[:n]:
        (dst / image.name).write_bytes(image.read_bytes())


def test_train_without_out_is_refused_before_torch_loads(shapes_dir) -> None:
    code = ("import sys\nfrom transfer_gui.cli import main\n"
            f"try:\n    main(['train', {str(shapes_dir)!r}])\n"
            "except SystemExit as exc:\n    print(exc.code, 'torch' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=ENV, timeout=120)
    assert done.stdout.split() == ["2", "False"]  # a usage error, and torch never imported
    assert "--out RUN" in done.stderr


def test_a_missing_folder_does_not_exist(tmp_path, capsys) -> None:
    code, _, err = run_cli(capsys, "check-data", str(tmp_path / "photos"))
    assert code == 1 and "photos does not exist" in err
    (tmp_path / "file.txt").write_text("x")
    code, _, err = run_cli(capsys, "check-data", str(tmp_path / "file.txt"))
    assert code == 1 and "is not a folder" in err
    code, _, err = run_cli(capsys, "check-data", str(tmp_path / "labels.csv"))
    assert code == 1 and "labels.csv does not exist" in err


@pytest.mark.parametrize("case", ["empty", "broken", "one class"])
def test_check_data_fails_when_nothing_can_train(case, shapes_dir, tmp_path, capsys) -> None:
    data = tmp_path / "data"
    data.mkdir()
    if case == "broken":
        for name in ("a", "b"):
            (data / name).mkdir()
            (data / name / "x.png").write_text("text, not a picture")
    if case == "one class":
        copy_images(shapes_dir / "circle", data / "circle", 5)
    code, out, _ = run_cli(capsys, "check-data", str(data))
    assert code == 1
    why = {"empty": "no class", "broken": "no usable images",
           "one class": "only one class"}[case]
    assert "cannot train: " in out and why in out.split("cannot train: ")[1]
    code, out, _ = run_cli(capsys, "check-data", str(data), "--json")
    report = json.loads(out)
    assert code == 1 and report["trainable"] is False and why in report["cannot_train"]


def test_check_data_passes_data_that_trains(shapes_dir, capsys) -> None:
    code, out, _ = run_cli(capsys, "check-data", str(shapes_dir), "--json")
    assert code == 0 and json.loads(out)["trainable"] is True


def test_train_review_refuses_an_unknown_action_and_counts_what_it_changed(
        shapes_dir, tmp_path, capsys) -> None:
    review = write_csv(tmp_path / "review.csv", ["file", "given", "action"], [
        ["circle/circle_000.png", "circle", "exclude"],
        ["circle/circle_001.png", "circle", "sneekers"]])
    args = ["train", str(shapes_dir), "--backbone", "tiny_cnn", "--epochs", "1",
            "--batch-size", "8", "--review", str(review)]
    code, _, err = run_cli(capsys, *args, "--out", str(tmp_path / "refused"))
    assert code == 1 and "'sneekers'" in err and "circle_001.png" in err
    assert not (tmp_path / "refused").exists()
    write_csv(review, ["file", "given", "action"], [
        ["circle/circle_000.png", "circle", "exclude"],
        ["circle/circle_001.png", "circle", "square"],
        ["circle/gone.png", "circle", "exclude"]])
    code, _, err = run_cli(capsys, *args, "--out", str(tmp_path / "run"))
    assert code == 0
    assert "review: 1 image left out, 1 relabelled (1 file it names not found)" in err


def test_inspect_takes_a_labels_csv(tmp_path, capsys) -> None:
    table = two_task_set(tmp_path / "data", per_pair=4)
    code, out, err = run_cli(capsys, "inspect", str(table), "--backbone", "tiny_cnn",
                             "--task", "backdrop", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["images"] == 16 and len(summary["map"]) == 16


def test_backbones_into_a_closed_pipe_ends_quietly() -> None:
    done = subprocess.run(f"{sys.executable} -m transfer_gui backbones | head -n 2",
                          shell=True, capture_output=True, text=True, env=ENV, timeout=120)
    assert len(done.stdout.splitlines()) == 2
    assert done.stderr == ""


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs a read-only /sys")
def test_predict_csv_names_the_users_file_and_confirms_it(shapes_dir, tmp_path,
                                                         capsys) -> None:
    run = tmp_path / "run"
    assert main(["train", str(shapes_dir), "--out", str(run), "--backbone", "tiny_cnn",
                 "--epochs", "1", "--batch-size", "8"]) == 0
    capsys.readouterr()
    images = str(shapes_dir / "square")
    table = tmp_path / "out" / "predictions.csv"
    code, out, _ = run_cli(capsys, "predict", str(run), images, "--csv", str(table))
    assert code == 0 and table.is_file()
    assert f"wrote 16 predictions to {table}" in out
    unwritable = Path("/sys/predictions.csv")  # no one may write there, root neither
    code, out, err = run_cli(capsys, "predict", str(run), images, "--csv", str(unwritable))
    assert code == 1 and str(unwritable) in err and ".tmp" not in err
    assert "16 images" in out  # the predictions were shown first: nothing is lost


def test_the_log_of_several_processes_says_how_many() -> None:
    from transfer_gui.core import device_label

    assert device_label(torch.device("cpu"), 2).endswith(", 2 processes")
    assert "processes" not in device_label(torch.device("cpu"))


def test_evaluate_text_of_a_csv_task_has_balanced_accuracy(capsys) -> None:
    print_tasks({"ink": {"kind": "single-label", "accuracy": 0.75,
                         "balanced_accuracy": 0.625, "macro_f1": 0.6,
                         "classes": ["blue", "red"], "confusion": [[1, 1], [0, 2]],
                         "per_class": [{"class": "blue", "precision": 1.0, "recall": 0.5,
                                        "f1": 0.667, "support": 2},
                                       {"class": "red", "precision": 0.667, "recall": 1.0,
                                        "f1": 0.8, "support": 2}]}})
    assert "balanced accuracy 62.50%" in capsys.readouterr().out
