"""Know your data, in the engine and on the command line: label errors planted on purpose are
ranked first, resized and re-encoded copies are found (and distinct images are not), the map is
reproducible, and a review's exclusions and relabels reach the training split."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from know_your_data_images import crops_with_copies, flipped_dataset

from transfer_gui.cli import main
from transfer_gui.core import (
    DataConfig,
    Project,
    RunConfig,
    data_features,
    embed,
    load_project,
    run_features,
    save_project,
    scan_folder,
)
from transfer_gui.core.analysis.labelissues import out_of_fold_probabilities, ranked
from transfer_gui.core.analysis.neardups import near_duplicates
from transfer_gui.core.data.split import training_split
from transfer_gui.core.io.bundle import load_split
from transfer_gui.core.io.review import read_review, review_mark


@pytest.fixture(scope="module")
def flipped(tmp_path_factory) -> tuple[Path, set[str]]:
    root = tmp_path_factory.mktemp("flipped")
    return root, flipped_dataset(root)  # 160 images, 8 labels flipped


@pytest.mark.parametrize("method", ["confident-learning", "self-confidence"])
def test_flipped_labels_rank_first(flipped, method):
    """Top N = twice the flips (16): precision at least 7/16 and recall at least 7/8 (measured
    on seeds 0-2 of this set: 7 of 8 with both methods; the tiny network's random features are
    weaker than a pretrained network's, which ranks all the flips first, see BENCHMARKS (k))."""
    root, moved = flipped
    data = data_features(str(root), backbone="tiny_cnn")
    probs = out_of_fold_probabilities(data.features, data.labels, len(data.classes))
    order, flagged = ranked(probs, data.labels, method)
    top = {data.samples[i].path for i in order[:2 * len(moved)]}
    hits = len(top & moved)
    precision, recall = hits / (2 * len(moved)), hits / len(moved)
    assert len(moved) == 8
    assert recall >= 7 / 8 and precision >= 7 / 16, (precision, recall)
    assert sorted(order) == list(range(len(data.samples)))  # a full ranking
    flips = {i for i, sample in enumerate(data.samples) if sample.path in moved}
    assert len(flagged & flips) >= 4  # the flagged set holds most flips (measured: 6 or 7)


def test_inspect_command_writes_the_review(flipped, tmp_path, capsys):
    root, moved = flipped
    out = tmp_path / "out"
    code = main(["inspect", str(root), "--backbone", "tiny_cnn", "--map", str(out / "map.png"),
                 "--label-issues", str(out / "issues.csv"), "--near-duplicates",
                 str(out / "dups.csv"), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and summary["images"] == 160 and len(summary["map"]) == 160
    assert summary["separability"] > 0.6
    with open(out / "issues.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and rows[0]["action"] == "" and set(rows[0]) >= {"given", "suggested"}
    listed = {str(root / r["file"]) for r in rows}
    assert len(listed & moved) >= 5  # flagged flips on the review list (measured: 6 of 8)
    assert (out / "map.png").stat().st_size > 1000 and (out / "dups.csv").is_file()


def test_near_duplicates_found_distinct_images_not(tmp_path):
    """The tiny test network's features, on photo crops: each copy pairs with its original
    (cosine >= 0.98 measured >= 0.99), no two distinct crops do (measured at most 0.97)."""
    copies = crops_with_copies(tmp_path)
    data = data_features(str(tmp_path), backbone="tiny_cnn")
    pairs = near_duplicates(data.features, threshold=0.98)
    found = {frozenset((data.samples[p.first].path, data.samples[p.second].path))
             for p in pairs}
    assert found == {frozenset(pair) for pair in copies.items()}
    assert all(p.similarity >= 0.98 for p in pairs)


def test_map_is_the_same_for_a_seed():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 40)) * 4
    labels = rng.integers(0, 3, 90)
    feats = (centres[labels] + rng.normal(size=(90, 40))).astype(np.float32)
    first, again = embed(feats, seed=1), embed(feats, seed=1)
    assert first.shape == (90, 2) and np.isfinite(first).all()
    np.testing.assert_array_equal(first, again)
    # the classes sit apart on the map: each point's nearest neighbour is mostly of its class
    gaps = ((first[:, None] - first[None]) ** 2).sum(-1) + np.eye(90) * 1e9
    assert (labels[gaps.argmin(1)] == labels).mean() > 0.9


def test_review_leaves_out_and_relabels_before_the_split(shapes_dir, tmp_path):
    scan = scan_folder(str(shapes_dir))
    gone, moved = "circle/circle_000.png", "square/square_003.png"
    exclude, relabel = review_mark((), (), gone, "exclude")
    exclude, relabel = review_mark(exclude, relabel, moved, "triangle")
    train, val = training_split(scan, 0.2, 0, exclude=exclude, relabel=relabel)
    labels = {Path(s.path).relative_to(shapes_dir).as_posix(): s.label for s in train + val}
    assert len(labels) == 47 and gone not in labels
    assert labels[moved] == scan.classes.index("triangle")
    assert (shapes_dir / gone).is_file() and (shapes_dir / moved).is_file()  # never moved
    assert review_mark(exclude, relabel, gone, None) == ((), relabel)  # unmarked again
    project = Project(RunConfig(DataConfig(root=str(shapes_dir), exclude=exclude,
                                           relabel=relabel)))
    save_project(project, tmp_path / "p.tgproj")  # kept in the project, read back by --review
    assert load_project(tmp_path / "p.tgproj").config.data.exclude == exclude
    assert read_review(tmp_path / "p.tgproj") == (exclude, relabel)


def test_train_command_respects_the_review(shapes_dir, tmp_path, capsys):
    review = tmp_path / "review.csv"
    review.write_text("rank,file,given,suggested,confidence,action\n"
                      "1,circle/circle_001.png,circle,square,0.9,exclude\n"
                      "2,square/square_002.png,square,triangle,0.8,triangle\n"
                      "3,cross/none.png,cross,circle,0.7,\n", encoding="utf-8")
    assert read_review(review) == (("circle/circle_001.png",),
                                   ("square/square_002.png=triangle",))
    run = tmp_path / "run"
    code = main(["train", str(shapes_dir), "--out", str(run), "--backbone", "tiny_cnn",
                 "--epochs", "1", "--image-size", "32", "--review", str(review), "--json"])
    capsys.readouterr()
    assert code == 0
    train, val = load_split(run)
    labels = {Path(s.path).name: s.label for s in train + val}
    assert len(labels) == 47 and "circle_001.png" not in labels
    assert labels["square_002.png"] == 2  # triangle
    trained = run_features(str(run), train[:5])  # the trained body's features, for the map
    assert trained.shape == (5, 32) and np.isfinite(trained).all()
    saved = json.loads((run / "run.json").read_text(encoding="utf-8"))["config"]["data"]
    assert saved["exclude"] == ["circle/circle_001.png"]  # recorded: a resumed run keeps it


def test_bad_review_file_is_refused_clearly(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("name,what\nx,y\n", encoding="utf-8")
    from transfer_gui.core.io.review import ReviewError

    with pytest.raises(ReviewError, match="'file' and 'action'"):
        read_review(bad)
