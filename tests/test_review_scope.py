"""Review decisions (Know your data's Exclude / Relabel) belong to the folder they were made on:
a configuration moved to another folder carries none of them (its runs, an adaptation run
included, train on every image there), and going back to the folder brings them back."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from imagegen import make_dataset
from transfer_gui.core.config import (
    DataConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
    TransferConfig,
)
from transfer_gui.core.io.bundle import load_split
from transfer_gui.core.io.project import Project, load_project, save_project
from transfer_gui.core.train.loop import Trainer

GONE, MOVED = "circle/circle_000.png", "square/square_001.png=triangle"


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> tuple[Path, Path]:
    """Two folders with the same file names (the names a review records)."""
    root = tmp_path_factory.mktemp("two")
    return (make_dataset(root / "a", per_class=8, size=32),
            make_dataset(root / "b", per_class=8, size=32, seed=1, invert=True))


def reviewed(folder: Path) -> DataConfig:
    return DataConfig(root=str(folder), exclude=(GONE,), relabel=(MOVED,))


def test_decisions_do_not_follow_the_data_to_another_folder(folders):
    a, b = folders
    data = reviewed(a)
    assert data.reviewed == str(a) and data.exclude == (GONE,)
    moved = dataclasses.replace(data, root=str(b))
    assert moved.exclude == () and moved.relabel == () and moved.reviewed == ""
    assert "circle_000" not in json.dumps(RunConfig(moved).to_dict())
    same = dataclasses.replace(data, root=str(a) + "/")  # the same folder, written otherwise
    assert same.exclude == (GONE,)
    # a configuration written before decisions named their folder: they are the root's
    old = DataConfig.from_dict({"root": str(a), "exclude": [GONE]})
    assert old.exclude == (GONE,) and old.reviewed == str(a)


def test_project_keeps_each_folders_decisions(folders, tmp_path):
    a, b = folders
    project = Project(RunConfig(reviewed(a)))
    project.config = dataclasses.replace(project.config, data=project.data_on(str(b)))
    assert project.config.data.exclude == () and project.config.data.relabel == ()
    save_project(project, tmp_path / "p.tgproj")  # saved while on b: a's decisions kept
    project = load_project(tmp_path / "p.tgproj")
    assert project.config.data.root == str(b) and project.config.data.exclude == ()
    back = project.data_on(str(a))
    assert back.exclude == (GONE,) and back.relabel == (MOVED,)


def test_an_adaptation_run_on_another_folder_trains_on_all_its_images(folders, tmp_path):
    a, b = folders
    data = dataclasses.replace(reviewed(a), root=str(b), val_split=0.25)
    config = RunConfig(data, ModelConfig(backbone="tiny_cnn", strategy="full"),
                       TrainConfig(epochs=1, batch_size=8, image_size=32, num_workers=0),
                       TransferConfig("align", target_dir=str(a)))
    run = tmp_path / "run"
    Trainer().fit(config, run)
    train, val = load_split(run)
    assert len(train) + len(val) == 24  # every image of b, its circle_000 and square_001 too
    names = {Path(s.path).relative_to(b).as_posix(): s.label for s in train + val}
    assert names["square/square_001.png"] != names["triangle/triangle_001.png"]
    saved = json.loads((run / "run.json").read_text(encoding="utf-8"))["config"]["data"]
    assert saved["exclude"] == [] and saved["relabel"] == []
