"""int8 ONNX (static, calibrated on the run's training images; dynamic without them) and the
export benchmark: every format's size, speed, accuracy and agreement with the run."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import onnx
import pytest

from transfer_gui.cli import main
from transfer_gui.core.io import quantize as quantize_module
from transfer_gui.core.io.export import default_export_path, export_format_for, export_run
from transfer_gui.core.io.exportbench import RUN_ROW
from transfer_gui.core.io.exportformats import load_onnx
from transfer_gui.core.io.quantize import agreement, images_of, quantize


@pytest.fixture(scope="module")
def int8(trained_run, tmp_path_factory):
    return export_run(trained_run, tmp_path_factory.mktemp("int8") / "m.int8.onnx",
                      "onnx-int8")


def test_int8_is_static_qdq_calibrated_and_answers_like_the_run(int8, trained_run):
    assert int8.method == "static" and int8.calibration > 0
    graph = onnx.load(str(int8.path))
    ops = {n.op_type for n in graph.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    weights = {i.name: i for i in graph.graph.initializer}
    scales = [weights[n.input[1]] for n in graph.graph.node
              if n.op_type == "DequantizeLinear" and n.input[0] in weights
              and weights[n.input[0]].data_type == onnx.TensorProto.INT8
              and len(weights[n.input[0]].dims) == 4]
    assert scales and all(s.dims and s.dims[0] > 1 for s in scales)  # per output channel
    meta = {p.key: p.value for p in graph.metadata_props}
    assert json.loads(meta["classes"]) == ["circle", "square", "triangle"]
    assert int8.check.agreement >= 0.75 and int8.check.images > 0
    assert int8.path.with_suffix(".labels.json").is_file()
    assert export_format_for("x/model.int8.onnx") == "onnx-int8"
    assert export_format_for("x/model.onnx") == "onnx"
    assert default_export_path("run", "onnx-int8").name == "model.int8.onnx"


def test_without_training_images_the_weights_alone_are_quantized(int8, trained_run, tmp_path):
    float_file = export_run(trained_run, tmp_path / "m.onnx", "onnx").path
    assert quantize(float_file, tmp_path / "d.onnx", np.empty((0, 3, 64, 64))) == "dynamic"
    from transfer_gui.core.io.bundle import load_run

    x, _ = images_of(load_run(trained_run), "val", 8)
    assert load_onnx(tmp_path / "d.onnx")(x).shape == (len(x), 3)


def test_an_int8_file_that_loses_accuracy_is_written_with_a_warning(int8, trained_run,
                                                                    monkeypatch, capsys):
    lost = dataclasses.replace(int8.check, accuracy=0.50, run_accuracy=0.515)
    assert "1.5 points below the run's 51.5%" in quantize_module.drop_warning(lost)
    kept = dataclasses.replace(int8.check, accuracy=0.50, run_accuracy=0.505)
    assert quantize_module.drop_warning(kept) == ""
    warned = dataclasses.replace(int8, check=lost, warning=quantize_module.drop_warning(lost))
    monkeypatch.setattr("transfer_gui.core.export_run", lambda *a, **k: warned)
    assert main(["export", str(trained_run), "--format", "onnx-int8"]) == 0
    assert "warning: the int8 model's accuracy is 50.0%" in capsys.readouterr().err


def test_agreement_and_accuracy():
    want = np.array([[2, 1], [0, 3], [5, 1], [1, 0]], dtype=float)
    got = np.array([[2, 1], [3, 0], [5, 1], [1, 0]], dtype=float)
    check = agreement(want, got, np.array([0, 1, 1, 0]))
    assert check.agreement == 0.75 and check.accuracy == 0.5 and check.run_accuracy == 0.75
    assert check.accuracy_drop() == pytest.approx(25.0)


def test_benchmark_measures_each_format(trained_run, shapes_dir, capsys):
    assert main(["export", str(trained_run), "--benchmark", "--format", "onnx-int8",
                 "--data", str(shapes_dir), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["format"] for r in rows] == [RUN_ROW, "onnx-int8"]
    assert rows[0]["agreement"] == 1.0 and rows[0]["images"] == 48  # every image of DIR
    assert all(r["size"] > 0 and r["ms_batch1"] > 0 and r["ms_batch32"] > 0 for r in rows)
    assert rows[1]["agreement"] >= 0.75 and rows[1]["accuracy"] is not None
    assert main(["export", str(trained_run), "--benchmark", "--data", "/nonexistent"]) == 1


def test_ort_mobile_format_runs_in_onnxruntime_like_the_run(trained_run, tmp_path):
    result = export_run(trained_run, tmp_path / "model.ort", "ort")
    assert export_format_for(result.path) == "ort"
    assert result.path.read_bytes()[4:8] == b"ORTM"  # the flatbuffer's file identifier
    assert result.images > 0 and result.max_diff <= result.tolerance
    from transfer_gui.core.io.bundle import load_run
    from transfer_gui.core.io.exportformats import load_ort

    x, _ = images_of(load_run(trained_run), "val", 4)
    assert load_ort(result.path)(x).shape == (len(x), 3)
