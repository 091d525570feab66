"""Project files round-trip, move with their folder, and open with missing parts marked."""

import json
import shutil

import pytest

from transfer_gui.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from transfer_gui.core.io.project import Project, ProjectError, load_project, save_project


def test_round_trip_and_relative_paths(tmp_path, shapes_dir):
    folder = tmp_path / "proj"
    data = folder / "images"
    shutil.copytree(shapes_dir, data)
    cfg = RunConfig(DataConfig(root=str(data), val_split=0.3, seed=4),
                    ModelConfig(backbone="resnet18", strategy="fine-tune",
                                trainable=("layer4", "head")),
                    TrainConfig(epochs=3, lr=0.01))
    project = Project(cfg)
    project.add_run(str(folder / "runs" / "one"))
    save_project(project, folder / "p.tgproj")
    raw = json.loads((folder / "p.tgproj").read_text())
    assert raw["config"]["data"]["root"] == "images"
    moved = tmp_path / "moved"
    shutil.move(folder, moved)
    loaded = load_project(moved / "p.tgproj")
    assert loaded.config.data.root == str((moved / "images").resolve())
    assert loaded.config.model.trainable == ("layer4", "head")
    assert loaded.config.train == cfg.train
    assert loaded.missing == [f"run: {(moved / 'runs' / 'one').resolve()}"]


def test_missing_data_is_marked_not_fatal(tmp_path):
    path = tmp_path / "p.tgproj"
    save_project(Project(RunConfig(DataConfig(root="/nowhere/at/all"))), path)
    loaded = load_project(path)
    assert loaded.missing == ["data folder: /nowhere/at/all"]


@pytest.mark.parametrize("content", ["", "{not json", "[1, 2]", '{"app": "other"}'])
def test_bad_project_files_are_refused_clearly(tmp_path, content):
    path = tmp_path / "p.tgproj"
    path.write_text(content)
    with pytest.raises(ProjectError):
        load_project(path)
