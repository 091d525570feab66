"""Suggestions while labelling: the probe's advice never writes a label, `suggest` never names
a labelled image, it starts from no labels at all, and the strategies pick what they say."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from imagegen import make_dataset
from transfer_gui.cli import main
from transfer_gui.core import LabelPool, from_features, pool_features, suggest
from transfer_gui.core.analysis.activelearn import SUGGEST_STRATEGIES, next_rows
from transfer_gui.core.analysis.suggest import cv_accuracy


@pytest.fixture(scope="module")
def loose(tmp_path_factory) -> Path:
    src = make_dataset(tmp_path_factory.mktemp("src"), per_class=10, size=32)
    pool = tmp_path_factory.mktemp("pool")
    for path in src.rglob("*.png"):
        shutil.copy(path, pool / path.name)
    return pool


def blobs(per: int = 30, centres: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    means = rng.normal(0, 10, (centres, 16))
    x = np.concatenate([m + rng.normal(0, 0.5, (per, 16)) for m in means])
    return x.astype(np.float32), np.repeat(np.arange(centres), per)


def run_suggest(capsys, *args: str) -> list[dict]:
    assert main(["suggest", *args, "--backbone", "tiny_cnn", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("header_only", [False, True])
def test_suggest_works_from_no_labels(loose, tmp_path, capsys, header_only):
    table = tmp_path / "labels.csv"
    if header_only:
        table.write_text("file,label\n")
    shutil.copytree(loose, tmp_path / "pool")
    rows = run_suggest(capsys, str(tmp_path / "pool"), "--labels", str(table), "--count", "5")
    assert len(rows) == 5 and len({r["file"] for r in rows}) == 5
    assert all((tmp_path / "pool" / r["file"]).is_file() for r in rows)
    assert all(r["suggestion"] is None for r in rows)  # no probe without labels


def test_suggest_never_names_a_labelled_image(loose, tmp_path, capsys):
    root = tmp_path / "pool"
    shutil.copytree(loose, root)
    pool = LabelPool.open(root)
    for name in pool.files[::3]:
        pool.set_label([name], name.split("_")[0])
    free = set(pool.unlabelled())
    for strategy in SUGGEST_STRATEGIES:
        rows = run_suggest(capsys, str(root), "--count", "100", "--strategy", strategy)
        assert {r["file"] for r in rows} == free, strategy  # all of them, and only them
        assert len(rows) == len(free)
    first = run_suggest(capsys, str(root), "--count", "3")
    assert len(first) == 3 and all(r["suggestion"] in {"circle", "square", "triangle"}
                                   for r in first)


def test_a_suggestion_never_changes_a_users_label(loose, tmp_path):
    root = tmp_path / "pool"
    shutil.copytree(loose, root)
    pool = LabelPool.open(root)
    wrong = {name: "square" for name in pool.files if name.startswith("circle")}
    for name, label in wrong.items():  # labels the probe will disagree with
        pool.set_label([name], label)
    pool.set_label([f for f in pool.files if f.startswith("triangle")][:5], "triangle")
    saved = (root / "labels.csv").read_bytes()
    feats = pool_features(pool, "tiny_cnn")
    result = suggest(feats, pool.labels, count=10)
    assert not set(result.by_file) & set(pool.labels) and not set(result.next) & set(pool.labels)
    assert all(pool.labels[n] == "square" for n in wrong)
    assert (root / "labels.csv").read_bytes() == saved
    assert len(result.by_file) == len(pool.unlabelled())


def test_typical_images_first_cover_every_cluster():
    x, groups = blobs()
    for strategy in ("typical", "kmeans", "auto"):
        rows = next_rows(x, np.zeros(len(x), bool), None, 4, strategy)
        assert sorted(groups[rows]) == [0, 1, 2, 3], strategy


def test_typical_images_go_to_clusters_without_labels():
    x, groups = blobs()
    labelled = np.isin(np.arange(len(x)), [0, 1, 30])  # blobs 0 and 1 have labels
    rows = next_rows(x, labelled, None, 2, "typical")
    assert sorted(groups[rows]) == [2, 3]


def test_least_certain_first_with_diversity():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (200, 8)).astype(np.float32)
    probs = np.stack([np.linspace(0.5, 1, 200), 1 - np.linspace(0.5, 1, 200)], axis=1)
    labelled = np.zeros(200, bool)
    labelled[:3] = True  # the three least certain are labelled: never suggested
    assert next_rows(x, labelled, probs, 5, "margin") == [3, 4, 5, 6, 7]
    picks = next_rows(x, labelled, probs, 5, "margin-diverse")
    assert len(set(picks)) == 5 and max(picks) < 3 + 50 and min(picks) >= 3


def test_cross_validated_accuracy_of_the_labels():
    x, groups = blobs(per=10)
    feats = from_features([f"{i}.png" for i in range(len(x))], x)
    assert cv_accuracy(feats.x, groups) == 1.0
    assert cv_accuracy(feats.x[:10], groups[:10]) is None  # one class
    labels = {f"{i}.png": str(groups[i]) for i in range(0, 40, 2)}
    result = suggest(feats, labels, count=5)
    assert result.cv_accuracy == 1.0 and result.labelled == 20
    right = sum(result.by_file[f].label == str(groups[int(f[:-4])]) for f in result.by_file)
    assert right == 20 and len(result.next) == 5


def test_disagreements_are_labels_a_held_out_probe_contradicts():
    x, groups = blobs(per=10)
    feats = from_features([f"{i}.png" for i in range(len(x))], x)
    labels = {f"{i}.png": str(groups[i]) for i in range(0, 40, 2)}
    labels["0.png"] = "3"  # a blob-0 image labelled as blob 3
    result = suggest(feats, labels, count=5)
    assert result.disagreements == {"0.png": "0"}
    assert result.cv_accuracy == pytest.approx(19 / 20)


def test_a_folder_without_images_is_a_clear_message(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("no images here")
    assert main(["suggest", str(tmp_path), "--backbone", "tiny_cnn"]) != 0
    assert "holds no images" in capsys.readouterr().err
