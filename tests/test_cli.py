"""The command line end to end: train -> evaluate -> predict -> export, and the listings."""

from __future__ import annotations

import csv
import importlib
import json
import subprocess
import sys

import pytest
import torch
from torchvision.transforms.v2.functional import center_crop

from transfer_gui.cli import main
from transfer_gui.core.data.datasets import eval_transform, load_base
from transfer_gui.core.io.bundle import load_run


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_backbones_json(capsys):
    code, out, _ = run_cli(capsys, "backbones", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert code == 0
    assert rows["efficientnet_lite0"]["weights"] == "bundled"
    assert rows["resnet50"]["params"] == 25_557_032
    assert rows["vit_b_16"]["input_size"] == 224
    assert {r["weights"] for r in rows.values()} <= {"bundled", "cached", "download", "file"}
    assert "tiny_cnn" not in rows  # test-only backbone stays hidden


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")  # loaded here
def test_train_evaluate_predict_export(shapes_dir, tmp_path, capsys):
    run = tmp_path / "run"
    code, out, _ = run_cli(capsys, "train", str(shapes_dir), "--out", str(run),
                           "--image-size", "64", "--epochs", "6", "--json")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    epochs = [e for e in lines if e["event"] == "EpochEnded"]
    assert len(epochs) == 6 and epochs[-1]["val_acc"] >= 0.9
    assert lines[-1]["event"] == "FitEnded" and lines[-1]["status"] == "completed"
    assert (run / "model.safetensors").is_file() and (run / "run.json").is_file()

    code, out, _ = run_cli(capsys, "evaluate", str(run), str(shapes_dir), "--json")
    report = json.loads(out)
    assert code == 0
    assert set(report) >= {"accuracy", "classes", "per_class", "confusion"}
    assert report["accuracy"] >= 0.9
    assert sum(map(sum, report["confusion"])) == 9  # the validation split
    assert [c["class"] for c in report["per_class"]] == ["circle", "square", "triangle"]
    assert {"precision", "recall", "f1", "support"} <= set(report["per_class"][0])

    code, out, _ = run_cli(capsys, "evaluate", str(run), str(shapes_dir), "--all", "--json")
    assert sum(map(sum, json.loads(out)["confusion"])) == 48

    table = tmp_path / "predictions.csv"
    code, out, _ = run_cli(capsys, "predict", str(run), str(shapes_dir / "square"),
                           "--top-k", "2", "--json", "--csv", str(table))
    predictions = json.loads(out)
    assert code == 0 and len(predictions) == 16
    assert all(len(p["top_k"]) == 2 for p in predictions)
    assert sum(p["top_k"][0]["label"] == "square" for p in predictions) >= 14
    rows = list(csv.DictReader(table.open()))
    assert len(rows) == 16 and rows[0]["label_1"] == predictions[0]["top_k"][0]["label"]

    exported = tmp_path / "model.ts"
    code, out, _ = run_cli(capsys, "export", str(run), "--format", "torchscript",
                           "--out", str(exported), "--json")
    assert code == 0 and exported.is_file()
    report = json.loads(out)
    assert report["format"] == "torchscript" and report["path"] == str(exported)
    assert report["bytes"] == exported.stat().st_size and report["max_diff"] <= 1e-4
    loaded = torch.jit.load(str(exported))
    model = load_run(run)
    pre = model.preprocess
    image = load_base(str(next((shapes_dir / "circle").iterdir())), pre.resize_size)
    x = eval_transform(pre)(image)[None]
    crop = center_crop(image, [64, 64])
    with torch.no_grad():
        expected = model.model(x)
        got = loaded(crop[None].float() / 255)
    assert torch.allclose(expected, got, atol=1e-4)


def test_predict_with_imagenet_head(photo_dir, capsys):
    code, out, _ = run_cli(capsys, "predict", "--backbone", "efficientnet_lite0",
                           str(photo_dir / "coffee.jpg"), "--json", "--top-k", "3")
    assert code == 0
    assert json.loads(out)[0]["top_k"][0]["label"] == "espresso"


def test_check_data_reports_every_problem(shapes_dir, tmp_path, capsys):
    data = tmp_path / "data"
    for name in ("a", "b"):
        (data / name).mkdir(parents=True)
        for i in range(3):
            (data / name / f"{i}.png").write_bytes((shapes_dir / "circle" / f"circle_{i:03d}.png")
                                                   .read_bytes() if name == "a" else
                                                   (shapes_dir / "square" / f"square_{i:03d}.png")
                                                   .read_bytes())
    (data / "a" / "empty.jpg").write_bytes(b"")
    (data / "b" / "notes.jpg").write_text("not an image")
    (data / "b" / "readme.txt").write_text("hello")
    code, out, _ = run_cli(capsys, "check-data", str(data), "--json")
    report = json.loads(out)
    assert code == 0
    assert [c["count"] for c in report["classes"]] == [3, 3]
    reasons = {p["path"].rsplit("/", 1)[-1]: p["reason"] for p in report["problems"]}
    assert "empty" in reasons["empty.jpg"]
    assert "not an image" in reasons["notes.jpg"]
    assert "unsupported" in reasons["readme.txt"]


def test_train_refuses_a_single_class(tmp_path, shapes_dir, capsys):
    data = tmp_path / "one"
    (data / "only").mkdir(parents=True)
    for src in list((shapes_dir / "circle").iterdir())[:4]:
        (data / "only" / src.name).write_bytes(src.read_bytes())
    code, _, err = run_cli(capsys, "train", str(data), "--out", str(tmp_path / "run"))
    assert code == 1
    assert "only one class" in err
    assert not (tmp_path / "run").exists()


def test_usage_errors(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--epochs", "2"])
    assert exc.value.code == 2
    assert "DATA" in capsys.readouterr().err


def test_entry_point_module_runs():
    out = subprocess.run([sys.executable, "-m", "transfer_gui", "--help"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and "train" in out.stdout and "check-data" in out.stdout


@pytest.fixture
def opened(monkeypatch):
    """The `gui` command replaced by a recorder: what the window would have been asked to open."""
    cli_main = importlib.import_module("transfer_gui.cli.main")  # the module, not main()
    seen: list[str | None] = []
    monkeypatch.setitem(cli_main.COMMANDS, "gui",
                        lambda args: seen.append(getattr(args, "project", None)) or 0)
    return seen


def test_a_bare_project_file_or_folder_opens_the_window(tmp_path, opened):
    project = tmp_path / "birds.tgproj"
    project.write_text("{}")
    assert main([str(project)]) == 0
    assert main([str(tmp_path)]) == 0
    assert main([]) == 0
    assert opened == [str(project), str(tmp_path), None]


def test_commands_and_unknown_words_are_not_taken_for_paths(tmp_path, monkeypatch, capsys,
                                                             opened):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train").mkdir()  # a folder named like a command: the command wins
    (tmp_path / "notes.txt").write_text("")
    with pytest.raises(SystemExit) as exc:
        main(["train"])
    assert exc.value.code == 2 and "DATA" in capsys.readouterr().err
    for word in ("trian", "notes.txt", "missing.tgproj"):
        with pytest.raises(SystemExit) as exc:
            main([word])
        assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err
    assert opened == []
