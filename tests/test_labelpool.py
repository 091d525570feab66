"""The labels file of a pool being labelled: written atomically after every change, reloaded
exactly, undone, read by training as a CSV project, and sorted into folders only on request."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from imagegen import make_dataset
from transfer_gui.core import LabelPool, apply_sort, plan_sort, scan_data
from transfer_gui.core.data.scan import DataError


@pytest.fixture()
def loose(tmp_path) -> Path:
    """24 images with no labels: shapes copied loose into one folder (names keep the shape)."""
    sorted_dir = make_dataset(tmp_path / "src", per_class=8, size=32)
    pool = tmp_path / "pool"
    pool.mkdir()
    for path in sorted_dir.rglob("*.png"):
        shutil.copy(path, pool / path.name)
    return pool


def shape(name: str) -> str:
    return Path(name).name.split("_")[0]


def test_a_new_pool_has_no_labels_and_no_file(loose):
    pool = LabelPool.open(loose)
    assert len(pool.files) == 24 and pool.labels == {} and pool.unlabelled() == pool.files
    assert not (loose / "labels.csv").exists()


def test_every_change_is_written_and_reloads_exactly(loose, monkeypatch):
    pool = LabelPool.open(loose)
    writes = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (writes.append(b), real_replace(a, b)))
    for name in pool.files[:10]:
        pool.set_label([name], shape(name))
    assert len(writes) == 10 and all(Path(w).name == "labels.csv" for w in writes)
    again = LabelPool.open(loose)
    assert again.labels == pool.labels and len(again.labels) == 10
    assert sorted(again.classes) == sorted(set(pool.labels.values()))


def test_a_failed_write_keeps_the_old_file_and_the_old_state(loose, monkeypatch):
    pool = LabelPool.open(loose)
    pool.set_label(pool.files[:2], "circle")
    before = (loose / "labels.csv").read_bytes()

    def full(_src, _dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(OSError):
        pool.set_label(pool.files[2:4], "square")
    assert (loose / "labels.csv").read_bytes() == before
    assert set(pool.labels) == set(pool.files[:2])
    assert not [p for p in loose.iterdir() if p.name.endswith(".tmp")]


def test_undo_restores_the_previous_label(loose):
    pool = LabelPool.open(loose)
    a, b = pool.files[:2]
    pool.set_label([a, b], "circle")
    pool.set_label([a], "square")
    pool.set_label([b], None)
    assert pool.labels == {a: "square"}
    pool.undo()
    assert pool.labels == {a: "square", b: "circle"}
    pool.undo()
    assert pool.labels == {a: "circle", b: "circle"}
    pool.undo()
    assert pool.labels == {}
    assert pool.undo() == []
    assert LabelPool.open(loose).labels == {}  # the undo reached the file too


def test_a_labelled_pool_trains_like_a_csv_project(loose):
    pool = LabelPool.open(loose)
    for name in pool.files:
        if shape(name) != "triangle":  # these stay unlabelled: training leaves them out
            pool.set_label([name], shape(name))
    scan = scan_data(loose, verify=True)
    assert scan.layout == "csv" and len(scan.samples) == 16
    assert sorted(scan.classes) == ["circle", "square"]
    for sample in scan.samples:
        assert scan.classes[sample.label] == shape(sample.path)


def test_some_images_sorted_in_class_folders_the_rest_loose(tmp_path):
    root = make_dataset(tmp_path / "mixed", classes=("circle", "square"), per_class=3, size=32)
    make_dataset(tmp_path / "extra", classes=("triangle",), per_class=2, size=32)
    for path in (tmp_path / "extra" / "triangle").iterdir():
        shutil.copy(path, root / path.name)
    (root / "unlabelled").mkdir()
    shutil.copy(root / "circle" / "circle_000.png", root / "unlabelled" / "x.png")
    pool = LabelPool.open(root)
    assert len(pool.files) == 9 and len(pool.labels) == 6
    assert sorted(pool.unlabelled()) == ["triangle_000.png", "triangle_001.png",
                                         "unlabelled/x.png"]
    pool.set_label(["unlabelled/x.png"], "circle")
    assert len(LabelPool.open(root).labels) == 7  # the folders' labels were written too


def test_header_only_file_means_no_labels(loose):
    (loose / "labels.csv").write_text("file,label\n")
    assert LabelPool.open(loose).labels == {}


def test_bad_class_names_are_refused_and_nothing_changes(loose):
    pool = LabelPool.open(loose)
    for bad in ("", "  ", "a;b", "a|b", "a/b", ".."):
        with pytest.raises(DataError):
            pool.set_label(pool.files[:1], bad)
    assert pool.labels == {} and not (loose / "labels.csv").exists()


def test_a_labels_file_elsewhere_must_be_above_the_images(loose, tmp_path):
    with pytest.raises(DataError, match="folder above"):
        LabelPool.open(loose, tmp_path / "other" / "labels.csv")
    pool = LabelPool.open(loose, tmp_path / "mine.csv")
    pool.set_label(pool.files[:1], "circle")
    assert (tmp_path / "mine.csv").read_text().splitlines()[1].startswith("pool/")
    assert LabelPool.open(loose, tmp_path / "mine.csv").labels == pool.labels


def test_sorting_previews_then_moves_and_the_labels_follow(loose):
    pool = LabelPool.open(loose)
    for name in pool.files[:12]:
        pool.set_label([name], shape(name))
    before = sorted(p.name for p in loose.iterdir())
    moves = plan_sort(pool)
    assert len(moves) == 12 and sorted(p.name for p in loose.iterdir()) == before
    assert all(m.target == f"{shape(m.source)}/{m.source}" for m in moves)
    assert apply_sort(pool, moves) == 12
    again = LabelPool.open(loose)
    assert again.labels == pool.labels and len(again.unlabelled()) == 12
    assert all((loose / f).is_file() and f.startswith(c + "/") for f, c in again.labels.items())
    assert plan_sort(again) == []
