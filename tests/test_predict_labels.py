"""Prediction helpers without Qt: labelled folders, accuracy, the uncertainty flag, the CSV,
and evaluation on a separate labelled test folder."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from imagegen import make_dataset
from transfer_gui.core.analysis.evaluation import evaluate_run
from transfer_gui.core.analysis.predict import (
    UNCERTAIN_BELOW,
    Prediction,
    Predictor,
    expand_inputs,
    folder_labels,
    is_uncertain,
    labelled_accuracy,
    labelled_score,
    write_csv,
)
from transfer_gui.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from transfer_gui.core.data.datasets import Preprocess
from transfer_gui.core.train.loop import Trainer


def test_folder_labels_name_only_the_model_classes(tmp_path):
    paths = [str(tmp_path / "cat" / "a.png"), str(tmp_path / "val" / "dog" / "b.jpg"),
             str(tmp_path / "misc" / "c.png"), "d.png"]
    assert folder_labels(paths, ["cat", "dog"]) == ["cat", "dog", None, None]


def test_labelled_accuracy_counts_only_known_truths():
    labels = ["cat", "dog", "cat", None, "dog"]
    truths = ["cat", "cat", None, "dog", "dog"]
    assert labelled_accuracy(labels, truths) == (2, 3)  # unreadable and unlabelled left out
    assert labelled_accuracy([], []) == (0, 0)


def test_uncertain_below_the_threshold():
    assert UNCERTAIN_BELOW == 0.5
    assert is_uncertain([("cat", 0.316), ("dog", 0.2)])
    assert not is_uncertain([("cat", 0.5)])
    assert not is_uncertain([])  # an unreadable file has no answer to doubt
    assert not is_uncertain([("cat", 0.3)], threshold=0.25)


def test_csv_with_the_uncertain_column(tmp_path):
    rows = [Prediction("a.png", [("cat", 0.9)]), Prediction("b.png", [("dog", 0.3)]),
            Prediction("c.png", error="not an image")]
    assert write_csv(tmp_path / "p.csv", rows, 1, threshold=0.5) == 3
    table = list(csv.DictReader((tmp_path / "p.csv").open()))
    assert [r["uncertain"] for r in table] == ["0", "1", "0"]
    write_csv(tmp_path / "q.csv", rows, 1)  # without a threshold: the columns as before
    assert "uncertain" not in (tmp_path / "q.csv").read_text().splitlines()[0]


def test_csv_says_the_true_class_and_right_or_wrong(shapes_dir, tmp_path):
    """Images in class folders get their class and 1/0; a loose image gets empty cells."""
    loose = tmp_path / "loose.png"
    shutil.copy(next((shapes_dir / "circle").iterdir()), loose)
    inputs = [str(shapes_dir / "circle"), str(shapes_dir / "square"), str(loose)]
    files = expand_inputs(inputs)
    predictor = ConstantPredictor(["circle", "square", "triangle"])
    predictions = predictor.predict_paths(files, top_k=2)
    write_csv(tmp_path / "p.csv", predictions, 2, threshold=0.5)
    table = list(csv.DictReader((tmp_path / "p.csv").open()))
    assert [r["true_class"] for r in table] == ["circle"] * 16 + ["square"] * 16 + [""]
    assert [r["correct"] for r in table] == ["1"] * 16 + ["0"] * 16 + [""]
    assert table[0]["label_1"] == "circle" and table[0]["uncertain"] == "0"
    assert predictions[-1].to_dict(0.5) | {"top_k": []} == {
        "path": str(loose), "top_k": [], "true_class": None, "correct": None,
        "uncertain": False}


def test_a_folder_is_read_across_its_class_folders_in_turn(shapes_dir):
    files = expand_inputs([str(shapes_dir)])
    assert len(files) == 48
    assert [Path(f).parent.name for f in files[:6]] == ["circle", "square", "triangle"] * 2
    assert expand_inputs([str(shapes_dir)], interleave=False) == sorted(files)
    truths = folder_labels(files[:2], ["circle", "square", "triangle"])
    score = labelled_score(["circle", "circle"], truths)
    assert score is not None and (score.correct, score.counted, score.classes) == (1, 2, 2)
    assert score.text() == ("accuracy 50.0% on 2 images of 2 classes in folders named like "
                            "the model's classes")
    assert labelled_score(["circle"], [None]) is None


class ConstantPredictor(Predictor):
    """Answers "circle" (90 %) for every image: right in circle/, wrong elsewhere."""

    def __init__(self, classes):
        self.classes = list(classes)
        self.preprocess = Preprocess(image_size=32, resize_size=32)

    def predict_images(self, images, top_k=5):
        return [[("circle", 0.9), ("square", 0.1)][:top_k] for _ in images]


def test_evaluate_on_a_separate_test_folder(shapes_dir, tmp_path):
    config = RunConfig(DataConfig(root=str(shapes_dir)), ModelConfig("tiny_cnn", "linear-probe"),
                       TrainConfig(epochs=1, batch_size=8, image_size=32))
    run = tmp_path / "run"
    Trainer().fit(config, run, [])
    test = make_dataset(tmp_path / "test", classes=("circle", "square", "cross"), per_class=5,
                        size=32, seed=3)
    evaluation = evaluate_run(run, str(test))
    assert int(evaluation.result.confusion.sum()) == 10  # "cross" is not a class of the model
    assert str(test) in evaluation.source
    unknown = [p for p in evaluation.problems if "'cross'" in p.reason]
    # one problem for the class, counting the 5 images it stands for (not "1 file skipped")
    assert len(unknown) == 1 and unknown[0].files == 5 and "5 images" in unknown[0].reason
    own = evaluate_run(run)
    assert "validation split" in own.source


def test_cli_predict_marks_uncertain_right_and_wrong_and_export_states_its_input(
        shapes_dir, tmp_path, capsys):
    from transfer_gui.cli import main

    config = RunConfig(DataConfig(root=str(shapes_dir)), ModelConfig("tiny_cnn", "linear-probe"),
                       TrainConfig(epochs=1, batch_size=8, image_size=32))
    run = tmp_path / "run"
    Trainer().fit(config, run, [])
    loose = tmp_path / "loose.png"
    shutil.copy(next((shapes_dir / "square").iterdir()), loose)
    table = tmp_path / "p.csv"
    code = main(["predict", str(run), str(shapes_dir / "circle"), str(loose),
                 "--uncertain-below", "99", "--csv", str(table)])
    out = capsys.readouterr().out.splitlines()
    assert code == 0 and len(out) == 19  # 16 + 1 images, the summary, the file written
    assert out[-1] == f"wrote 17 predictions to {table}"
    predictions = Predictor.from_run(run, "cpu").predict_paths([str(loose)])
    for line in out[:16]:
        right = line.split(": ", 1)[1].startswith("circle ")
        assert line.endswith("[uncertain; right]" if right else
                             "[uncertain; wrong: the folder says circle]")
    assert out[16].startswith(f"{loose}: {predictions[0].label} ")
    assert out[16].endswith("[uncertain]")  # a loose image: no right or wrong
    correct = sum(line.endswith("right]") for line in out[:16])
    assert out[17] == (f"17 images · 17 uncertain (top class under 99%) · accuracy "
                       f"{correct / 16:.1%} on 16 images of 1 class in folders named like "
                       "the model's classes")
    rows = list(csv.DictReader(table.open()))
    assert [r["correct"] for r in rows] == [str(int(line.endswith("right]")))
                                            for line in out[:16]] + [""]

    assert main(["export", str(run), "--format", "torchscript",
                 "--out", str(tmp_path / "m.pt")]) == 0
    out = capsys.readouterr().out
    assert ("input: RGB images of 32 × 32 pixels, values in [0, 1] (a tensor of shape "
            "N × 3 × 32 × 32; the model normalises them itself); output: logits for 3 "
            "classes") in out
