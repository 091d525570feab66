"""Folder layouts without Qt: a parent of train/ and test/ (or val/) is a split, never two
classes named like splits; class names that look like splits are warned about."""

from __future__ import annotations

import json

from imagegen import make_dataset
from transfer_gui.cli import main
from transfer_gui.core.analysis.evaluation import evaluate_run
from transfer_gui.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from transfer_gui.core.data.scan import scan_folder
from transfer_gui.core.data.split import training_split
from transfer_gui.core.train.loop import Trainer

SHAPES = ("circle", "square")


def _classes(root, names: tuple[str, ...], per_class: int = 3):
    """ROOT/<name>/... for any class names (shapes drawn in turn, folders renamed)."""
    make_dataset(root, ("circle", "square", "triangle")[:len(names)], per_class, size=32)
    for shape, name in zip(("circle", "square", "triangle"), names, strict=False):
        (root / shape).rename(root / name)
    return root


def _split_warnings(scan) -> list[str]:
    return [p.reason for p in scan.problems
            if p.path == scan.root and "split folder" in p.reason]


def test_train_and_test_parent_reads_the_inner_classes(tmp_path):
    make_dataset(tmp_path / "train", SHAPES, per_class=6, size=32)
    make_dataset(tmp_path / "test", SHAPES, per_class=3, size=32, seed=1)
    scan = scan_folder(tmp_path)
    assert scan.classes == ["circle", "square"]
    assert scan.layout == "train-test"
    assert scan.test_dir == str(tmp_path / "test") and scan.test_images == 6
    assert len(scan.samples) == 12  # test/ is never trained on
    train, val = training_split(scan, 0.25, seed=0)
    assert len(train) + len(val) == 12 and len(val) == 4  # validation drawn from train/
    assert all("/train/" in s.path for s in train + val)
    assert "drawn from train/" in scan.layout_text() and "test/ (6 images)" in scan.layout_text()
    assert not _split_warnings(scan)


def test_train_and_val_keep_their_split_and_test_is_recorded(tmp_path):
    make_dataset(tmp_path / "Train", SHAPES, per_class=5, size=32)
    make_dataset(tmp_path / "VALID", SHAPES, per_class=2, size=32, seed=1)
    scan = scan_folder(tmp_path)
    assert scan.layout == "train-val" and scan.classes == ["circle", "square"]
    assert scan.test_dir == ""
    train, val = training_split(scan, 0.5, seed=0)
    assert len(train) == 10 and len(val) == 4 and all("/VALID/" in s.path for s in val)
    make_dataset(tmp_path / "test", SHAPES, per_class=1, size=32, seed=2)
    scan = scan_folder(tmp_path)
    assert scan.layout == "train-val" and scan.test_dir == str(tmp_path / "test")
    assert len(scan.samples) == 14
    assert "own split" in scan.layout_text() and "test/" in scan.layout_text()


def test_a_class_named_like_a_split_is_warned_about(tmp_path):
    _classes(tmp_path, ("circle", "square", "test"))
    scan = scan_folder(tmp_path)
    assert scan.layout == "classes" and "test" in scan.classes
    [warning] = _split_warnings(scan)
    assert "'test'" in warning and "train/" in warning
    clean = scan_folder(make_dataset(tmp_path / "clean", SHAPES, per_class=2, size=32))
    assert not _split_warnings(clean)


def test_split_folders_holding_images_directly_are_classes_with_a_warning(tmp_path):
    _classes(tmp_path, ("train", "test"))  # no class sub-folders inside
    scan = scan_folder(tmp_path)
    assert scan.layout == "classes" and scan.classes == ["test", "train"]
    [warning] = _split_warnings(scan)
    assert "'test' and 'train'" in warning


def test_a_folder_beside_the_splits_is_reported(tmp_path):
    make_dataset(tmp_path / "train", SHAPES, per_class=3, size=32)
    make_dataset(tmp_path / "test", (*SHAPES, "triangle"), per_class=1, size=32)
    make_dataset(tmp_path / "extra", ("circle",), per_class=1, size=32)
    scan = scan_folder(tmp_path)
    assert scan.layout == "train-test" and scan.test_images == 3
    assert any(p.path == str(tmp_path / "extra") and "not used" in p.reason
               for p in scan.problems)
    assert any(p.path == str(tmp_path / "test" / "triangle") and "no training folder"
               in p.reason for p in scan.problems)


def test_evaluate_on_a_split_parent_uses_its_test_folder(tmp_path, capsys):
    parent = tmp_path / "data"
    make_dataset(parent / "train", SHAPES, per_class=6, size=32)
    make_dataset(parent / "test", SHAPES, per_class=2, size=32, seed=5)
    config = RunConfig(DataConfig(root=str(parent)), ModelConfig("tiny_cnn", "linear-probe"),
                       TrainConfig(epochs=1, batch_size=8, image_size=32))
    run = tmp_path / "run"
    Trainer().fit(config, run, [])
    evaluation = evaluate_run(run, str(parent))
    assert int(evaluation.result.confusion.sum()) == 4  # the 4 test images, not validation
    assert all("/test/" in item.path for item in evaluation.result.items)
    assert "test folder" in evaluation.source
    own = evaluate_run(run)  # "Evaluate again": the validation split, drawn from train/
    assert "validation split" in own.source
    assert all("/train/" in item.path for item in own.result.items)

    assert main(["evaluate", str(run), str(parent), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert sum(map(sum, report["confusion"])) == 4 and "test folder" in report["source"]
    assert main(["check-data", str(parent)]) == 0
    out = capsys.readouterr().out
    assert "2 classes, 12 images" in out and "kept apart for testing" in out
