"""Prediction helpers without Qt: labelled folders, accuracy, the uncertainty flag, the CSV,
and evaluation on a separate labelled test folder."""

from __future__ import annotations

import csv

from imagegen import make_dataset
from transfer_gui.core.analysis.evaluation import evaluate_run
from transfer_gui.core.analysis.predict import (
    UNCERTAIN_BELOW,
    Prediction,
    folder_labels,
    is_uncertain,
    labelled_accuracy,
    write_csv,
)
from transfer_gui.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
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
    assert any("'cross'" in p.reason for p in evaluation.problems)
    own = evaluate_run(run)
    assert "validation split" in own.source
