"""Files from elsewhere: run folders, weights, checkpoints and projects never run code, and
damaged or mismatched ones are refused with a message that says what is wrong."""

from __future__ import annotations

import json
import os
import pickle
import shutil

import pytest
import torch

from transfer_gui.cli import main
from transfer_gui.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from transfer_gui.core.events import Message, Recorder
from transfer_gui.core.io import bundle
from transfer_gui.core.io.project import Project, ProjectError, load_project, save_project
from transfer_gui.core.models.backbones import get_spec
from transfer_gui.core.train.loop import Trainer


class Exploit:
    """Unpickling this runs `touch MARKER`."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def evil_files(folder, marker) -> dict[str, bytes]:
    """The same payload as a bare pickle and inside a torch zip archive."""
    folder.mkdir(exist_ok=True)
    torch.save({"state_dict": {"w": Exploit(marker)}}, folder / "zip.pt")
    return {"pickle": pickle.dumps({"model": Exploit(marker)}, protocol=2),
            "torch": (folder / "zip.pt").read_bytes()}


@pytest.fixture()
def trained(probe_run):
    """A trained run (trained once for the session, this test's copy)."""
    return probe_run


@pytest.fixture()
def run_copy(trained, tmp_path):
    return shutil.copytree(trained, tmp_path / "run")


def cli(capsys, *args) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def test_the_payload_is_live(tmp_path):
    marker = tmp_path / "MARKER"
    pickle.loads(evil_files(tmp_path / "evil", marker)["pickle"])
    assert marker.exists()


@pytest.mark.parametrize("kind", ["pickle", "torch"])
def test_crafted_model_file_in_a_run_is_refused(run_copy, shapes_dir, tmp_path, capsys, kind):
    marker = tmp_path / "MARKER"
    (run_copy / bundle.WEIGHTS).write_bytes(evil_files(tmp_path / "evil", marker)[kind])
    image = next((shapes_dir / "circle").iterdir())
    for args in (("predict", run_copy, image), ("evaluate", run_copy),
                 ("export", run_copy, "--out", tmp_path / "m.ts")):
        code, err = cli(capsys, *args)
        assert code == 1 and "refused" in err and "Traceback" not in err, args
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["pickle", "torch"])
def test_crafted_checkpoint_is_refused_on_resume(run_copy, tmp_path, capsys, kind):
    marker = tmp_path / "MARKER"
    (run_copy / bundle.CHECKPOINT).write_bytes(evil_files(tmp_path / "evil", marker)[kind])
    code, err = cli(capsys, "train", "--resume", run_copy)
    assert code == 1 and "checkpoint" in err and "refused" in err
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["pickle", "torch"])
def test_crafted_weights_file_is_refused(shapes_dir, tmp_path, capsys, kind):
    marker = tmp_path / "MARKER"
    weights = tmp_path / "pretrained.pth"
    weights.write_bytes(evil_files(tmp_path / "evil", marker)[kind])
    code, err = cli(capsys, "train", shapes_dir, "--out", tmp_path / "run", "--backbone",
                    "tiny_cnn", "--weights", weights)
    assert code == 1 and "pretrained.pth is not a plain weights file and was refused" in err
    assert not marker.exists() and not (tmp_path / "run").exists()


def test_crafted_project_file_is_refused(tmp_path):
    marker = tmp_path / "MARKER"
    for kind, payload in evil_files(tmp_path / "evil", marker).items():
        path = tmp_path / f"{kind}.tgproj"
        path.write_bytes(payload)
        with pytest.raises(ProjectError, match="not a readable project file"):
            load_project(path)
    assert not marker.exists()


def test_weights_for_another_architecture_name_the_mismatch(shapes_dir, tmp_path, capsys):
    own = torch.load(get_spec("tiny_cnn").bundled())
    wider = {k: torch.zeros(v.shape[0] * 2, *v.shape[1:]) if v.ndim else v
             for k, v in own.items()}
    torch.save(wider, tmp_path / "wider.pth")
    torch.save({"features.0.weight": torch.zeros(3)}, tmp_path / "other.pth")
    code, err = cli(capsys, "train", shapes_dir, "--out", tmp_path / "a", "--backbone",
                    "tiny_cnn", "--weights", tmp_path / "wider.pth")
    assert code == 1
    assert "wider.pth does not match the architecture" in err
    assert "other shapes (e.g. stem.0.weight (16, 3, 3, 3) vs (8, 3, 3, 3))" in err
    code, err = cli(capsys, "train", shapes_dir, "--out", tmp_path / "b", "--backbone",
                    "tiny_cnn", "--weights", tmp_path / "other.pth")
    assert code == 1 and "missing (e.g. stem.0.weight)" in err
    assert "unexpected (e.g. features.0.weight)" in err


def test_run_weights_for_another_class_count(run_copy, capsys):
    state = bundle.read_state_dict(run_copy / bundle.WEIGHTS)
    state["head.weight"] = torch.zeros(5, state["head.weight"].shape[1])
    state["head.bias"] = torch.zeros(5)
    from safetensors.torch import save_file

    save_file(state, str(run_copy / bundle.WEIGHTS))
    code, err = cli(capsys, "evaluate", run_copy)
    assert code == 1 and "was trained for 5 classes but" in err and "lists 3" in err


def test_weights_from_a_run_with_other_classes_start_a_new_head(trained, shapes_dir, tmp_path):
    data = tmp_path / "two"
    for name in ("circle", "square"):
        shutil.copytree(shapes_dir / name, data / name)
    rec = Recorder()
    cfg = RunConfig(DataConfig(root=str(data)),
                    ModelConfig(backbone="tiny_cnn", weights_file=str(trained / bundle.WEIGHTS)),
                    TrainConfig(epochs=1, batch_size=8))
    Trainer().fit(cfg, tmp_path / "run", [rec])
    texts = [m.text for m in rec.of(Message)]
    assert any("trained for 3 classes, this data has 2" in t for t in texts), texts


@pytest.mark.parametrize("damage", [
    "", "{\"backbone\": ", "[1, 2]", "\x00\xff\xfe",
    json.dumps({"backbone": "tiny_cnn"}),
    json.dumps({"backbone": "tiny_cnn", "classes": 3, "preprocess": {}}),
    json.dumps({"backbone": "no_such_net", "classes": ["a", "b", "c"], "preprocess": {}}),
])
def test_damaged_run_json_is_a_clear_error(run_copy, capsys, damage):
    (run_copy / bundle.META).write_bytes(damage.encode("latin-1"))
    for args in (("evaluate", run_copy), ("train", "--resume", run_copy)):
        code, err = cli(capsys, *args)
        assert code == 1 and err.startswith("error: ") and "run.json" in err, (args, err)
        assert "Traceback" not in err


def test_damaged_config_in_run_json_is_a_clear_error(run_copy, capsys):
    meta = json.loads((run_copy / bundle.META).read_text())
    (run_copy / bundle.META).write_text(json.dumps({**meta, "config": "oops"}))
    code, err = cli(capsys, "train", "--resume", run_copy)
    assert code == 1 and "holds no usable configuration" in err


def test_damaged_split_is_a_clear_error(run_copy, capsys):
    (run_copy / bundle.SPLIT).write_text(json.dumps({"train": [[1]], "val": 7}))
    code, err = cli(capsys, "train", "--resume", run_copy)
    assert code == 1 and "split.json is damaged" in err


def test_project_with_moved_parts_opens_with_them_marked(tmp_path, trained):
    folder = tmp_path / "proj"
    (folder / "images").mkdir(parents=True)
    weights = folder / "start.pth"
    weights.write_bytes(b"")
    run = shutil.copytree(trained, folder / "runs" / "one")
    cfg = RunConfig(DataConfig(root=str(folder / "images"), val_dir=str(folder / "val")),
                    ModelConfig(weights_file=str(weights)))
    project = Project(cfg)
    project.add_run(str(run))
    save_project(project, folder / "p.tgproj")
    shutil.rmtree(folder / "images")
    weights.unlink()
    shutil.rmtree(run)
    loaded = load_project(folder / "p.tgproj")
    kinds = sorted(entry.split(":")[0] for entry in loaded.missing)
    assert kinds == ["data folder", "run", "validation folder", "weights file"]
    assert loaded.last_run == str(run.resolve())


@pytest.mark.parametrize("payload", [
    {"app": "transfer_gui", "runs": 5, "last_run": 7, "extra": []},
    {"app": "transfer_gui", "runs": ["a", None, 3], "config": None},
])
def test_project_with_odd_values_still_opens(tmp_path, payload):
    path = tmp_path / "p.tgproj"
    path.write_text(json.dumps(payload))
    project = load_project(path)
    assert project.last_run is None and all(isinstance(r, str) for r in project.runs)


@pytest.mark.parametrize("config", [{"data": "x"}, {"model": {"strategy": "magic"}},
                                    {"data": {"root": 5}}])
def test_project_with_an_invalid_configuration_is_refused(tmp_path, config):
    path = tmp_path / "p.tgproj"
    path.write_text(json.dumps({"app": "transfer_gui", "config": config}))
    with pytest.raises(ProjectError, match="invalid configuration"):
        load_project(path)


@pytest.mark.parametrize("content", [{"model": {}}, [1, 2], {"model": {"w": "text"},
                                     "optimizer": {}, "scheduler": {}, "state": {}}])
def test_foreign_checkpoint_is_a_clear_error(run_copy, capsys, content):
    torch.save(content, run_copy / bundle.CHECKPOINT)
    code, err = cli(capsys, "train", "--resume", run_copy)
    assert code == 1 and "checkpoint" in err and "Traceback" not in err
