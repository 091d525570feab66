"""A labels CSV whose only column is multi-label: the classes are every label of every row, not
each row's first label; evaluation on another CSV, the export's words and the ONNX metadata
all name every class."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from labelgen import _image, write_csv
from transfer_gui.cli import main
from transfer_gui.core.data.labels import scan_data
from transfer_gui.core.io import bundle

ORDER = ("red", "blue", "green")  # rows list their inks in this order: green is never first


def tags_listed_in_order(root: Path, count: int, seed: int) -> Path:
    """ROOT/tags.csv: each image's inks, red or blue always drawn, green often beside them."""
    rng = random.Random(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(count):
        inks = {("red", "blue")[i % 2]} | ({"green"} if rng.random() < 0.5 else set())
        name = f"images/t{i:03d}.png"
        _image(40, rng, sorted(inks), "light").save(root / name)
        rows.append([name, ";".join(c for c in ORDER if c in inks)])
    return write_csv(root / "tags.csv", ["path", "tags"], rows)


def test_a_label_never_listed_first_is_a_class(tmp_path, capsys):
    table = tags_listed_in_order(tmp_path / "a", 24, seed=0)
    scan = scan_data(table)
    assert scan.counts()[scan.classes.index("green")] > 0
    run = tmp_path / "run"
    assert main(["train", str(table), "--out", str(run), "--backbone", "tiny_cnn",
                 "--epochs", "1", "--batch-size", "8", "--image-size", "32",
                 "--workers", "0"]) == 0
    out = capsys.readouterr()
    assert "left out" not in out.out + out.err
    meta = bundle.read_meta(run)
    assert meta["classes"] == ["blue", "green", "red"]
    other = tags_listed_in_order(tmp_path / "b", 12, seed=1)
    assert main(["evaluate", str(run), str(other), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)["tasks"]["tags"]
    assert {r["label"] for r in figures["per_label"]} == {"blue", "green", "red"}
    onnx = tmp_path / "model.onnx"
    assert main(["export", str(run), "--out", str(onnx)]) == 0
    said = capsys.readouterr().out
    assert "3 labels" in said and "blue, green, red" in said
    onnxruntime = pytest.importorskip("onnxruntime")
    session = onnxruntime.InferenceSession(str(onnx))
    [output] = session.get_outputs()
    assert output.shape[1] == 3
    props = session.get_modelmeta().custom_metadata_map
    assert json.loads(props["classes"]) == ["blue", "green", "red"]
    assert json.loads(props["tasks"])[0]["classes"] == ["blue", "green", "red"]
