"""Exports: ONNX, torch.export and TorchScript, each checked against the run's model on its
validation images before it is kept, with labels and preprocessing beside it."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from transfer_gui.cli import main
from transfer_gui.core.analysis.predict import Predictor
from transfer_gui.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from transfer_gui.core.errors import UserError
from transfer_gui.core.io import exportformats
from transfer_gui.core.io.bundle import load_run
from transfer_gui.core.io.export import (
    TOLERANCES,
    ExportError,
    default_export_path,
    export_format_for,
    export_run,
    probe_inputs,
)
from transfer_gui.core.train.loop import Trainer

README = Path(__file__).parent.parent / "README.md"


def train(root: Path, out: Path, backbone: str, strategy: str = "linear-probe") -> Path:
    cfg = RunConfig(DataConfig(root=str(root)), ModelConfig(backbone=backbone, strategy=strategy),
                    TrainConfig(image_size=64, epochs=1))
    Trainer().fit(cfg, out)
    return out


@pytest.fixture(scope="module")
def tiny_run(shapes_dir, tmp_path_factory) -> Path:
    return train(shapes_dir, tmp_path_factory.mktemp("tiny") / "run", "tiny_cnn")


@pytest.fixture(scope="module")
def tiny_onnx(tiny_run, tmp_path_factory):
    return export_run(tiny_run, tmp_path_factory.mktemp("onnx") / "model.onnx", "onnx")


def validation_batch(run_dir: Path, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` validation images as the export takes them, and the run's logits for them."""
    run = load_run(run_dir)
    x, _ = probe_inputs(run)
    x = x[torch.arange(n) % len(x)]
    pre = run.preprocess
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (pre.mean, pre.std))
    with torch.no_grad():
        return x, run.model((x - mean) / std)


def test_onnx_runs_in_onnxruntime_like_the_run_for_any_batch_size(tiny_run, tiny_onnx):
    import onnxruntime

    result = tiny_onnx
    assert result.format == "onnx" and result.images == 8
    assert result.max_diff <= result.tolerance and result.tolerance >= TOLERANCES["onnx"]
    assert result.size == result.path.stat().st_size > 0
    session = onnxruntime.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    for n in (1, 5):
        x, expected = validation_batch(tiny_run, n)
        got = session.run(["logits"], {"images": x.numpy()})[0]
        assert got.shape == (n, 3)
        np.testing.assert_allclose(got, expected.numpy(), atol=1e-4)


def test_metadata_inside_the_onnx_file_and_beside_it(tiny_run, tiny_onnx):
    import onnx

    from transfer_gui import __version__

    run = load_run(tiny_run)
    props = {p.key: p.value for p in onnx.load(str(tiny_onnx.path)).metadata_props}
    assert json.loads(props["classes"]) == run.classes == ["circle", "square", "triangle"]
    pre = json.loads(props["preprocess"])
    assert (pre["image_size"], pre["resize_size"]) == (64, run.preprocess.resize_size)
    assert pre["mean"] == list(run.preprocess.mean) and pre["input_layout"] == "NCHW"
    assert pre["output"] == "logits"
    assert props["backbone"] == "tiny_cnn" and props["transfer_gui_version"] == __version__
    labels, preprocess = tiny_onnx.sidecars
    assert (labels.name, preprocess.name) == ("model.labels.json", "model.preprocess.json")
    assert labels.parent == tiny_onnx.path.parent
    assert json.loads(labels.read_text()) == run.classes
    assert json.loads(preprocess.read_text()) == pre


def test_torch_export_runs_in_pytorch_for_any_batch_size(tiny_run, tmp_path):
    result = export_run(tiny_run, tmp_path / "m.pt2", "torch-export")
    assert result.images == 8 and result.max_diff <= result.tolerance
    extra = {"transfer_gui.json": ""}
    module = torch.export.load(str(result.path), extra_files=extra).module()
    assert json.loads(extra["transfer_gui.json"])["classes"] == ["circle", "square", "triangle"]
    for n in (1, 5):
        x, expected = validation_batch(tiny_run, n)
        with torch.no_grad():
            torch.testing.assert_close(module(x), expected, atol=1e-5, rtol=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "m.labels.json", "m.preprocess.json", "m.pt2"]


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_torchscript_export_warns_nothing(tiny_run, tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = export_run(tiny_run, tmp_path / "m.pt", "torchscript")
    assert not [w for w in caught if issubclass(w.category, FutureWarning)]
    assert result.max_diff <= result.tolerance == TOLERANCES["torchscript"] * max(
        1.0, float(validation_batch(tiny_run, 8)[1].abs().max()))
    x, expected = validation_batch(tiny_run, 5)
    torch.testing.assert_close(torch.jit.load(str(result.path))(x), expected)


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_an_export_that_differs_is_refused_and_leaves_no_file(tiny_run, tmp_path, monkeypatch,
                                                               fmt):
    real = exportformats.LOADERS[fmt]

    def off_by_half(path):
        run = real(path)
        return lambda x: run(x) + 0.5

    monkeypatch.setitem(exportformats.LOADERS, fmt, off_by_half)
    out = tmp_path / "out" / f"model.{fmt}"
    with pytest.raises(ExportError, match=r"by 5\.00e-01, more than the tolerance of \d"):
        export_run(tiny_run, out, fmt)
    assert list(out.parent.iterdir()) == []  # no model, no side files, no temporary file


def test_a_knn_head_exports_to_onnx(shapes_dir, tmp_path):
    """Its log-probabilities of classes without a vote are log(1e-8), in onnxruntime too."""
    run = train(shapes_dir, tmp_path / "run", "tiny_cnn", "knn")
    result = export_run(run, tmp_path / "knn.onnx", "onnx")
    assert result.images == 8 and result.max_diff < 1e-4


def test_random_inputs_only_when_the_data_folder_is_gone(tiny_run, tmp_path):
    moved = shutil.copytree(tiny_run, tmp_path / "run")
    split = json.loads((moved / "split.json").read_text())
    (moved / "split.json").write_text(json.dumps({**split, "root": str(tmp_path / "gone")}))
    result = export_run(moved, tmp_path / "m.pt", "torchscript")
    assert result.images == 0 and "random inputs" in result.summary()
    assert result.max_diff <= result.tolerance


def test_missing_onnx_packages_name_the_extra(tiny_run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    # the tests run from a checkout: the message gives the checkout's editable install
    with pytest.raises(UserError, match=r'onnxruntime.*pip install -e "\.\[onnx\]" \(in '):
        export_run(tiny_run, tmp_path / "m.onnx", "onnx")
    assert not list(tmp_path.iterdir())


def test_formats_by_name_and_suffix(tiny_run, tmp_path):
    assert [export_format_for(p) for p in ("a.onnx", "a.PT2", "a.pt", "a.bin", None)] == [
        "onnx", "torch-export", "torchscript", "onnx", "onnx"]
    assert default_export_path(tiny_run, "onnx") == tiny_run / "export" / "model.onnx"
    with pytest.raises(ExportError, match="unknown export format 'tflite'"):
        export_run(tiny_run, tmp_path / "m", "tflite")


def test_cli_export_defaults_and_reports_parity(tiny_run, tmp_path, capsys, monkeypatch):
    run = shutil.copytree(tiny_run, tmp_path / "run")
    assert main(["export", str(run), "--format", "torch-export"]) == 0
    out = capsys.readouterr().out
    assert (run / "export" / "model.pt2").is_file()
    assert (run / "export" / "model.labels.json").is_file()
    assert re.search(r"largest difference .* on 8 validation images; \d+ KiB", out)
    monkeypatch.setitem(exportformats.LOADERS, "torchscript",
                        lambda path: (lambda x: torch.zeros(len(x), 3)))
    assert main(["export", str(run), "--out", str(tmp_path / "m.pt")]) == 1
    assert "more than the tolerance" in capsys.readouterr().err
    assert not (tmp_path / "m.pt").exists()


def readme_example() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("needs only onnxruntime, Pillow and numpy")
    return re.search(r"```python\n(.*?)```", text[start:], re.S).group(1)


def test_the_readme_example_classifies_with_the_onnx_file(tiny_run, tiny_onnx, shapes_dir,
                                                         monkeypatch):
    code = readme_example()
    assert "transfer_gui" not in code
    predictor = Predictor.from_run(tiny_run, device="cpu")
    images = sorted((shapes_dir / "square").iterdir())[:3] + sorted(
        (shapes_dir / "circle").iterdir())[:3]
    monkeypatch.chdir(tiny_onnx.path.parent)
    for image in images:
        monkeypatch.setattr(sys, "argv", ["classify.py", str(image)])
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(code, "README.md", "exec"), {"__name__": "__main__"})
        assert printed.getvalue().strip() == predictor.predict_paths([str(image)])[0].label


@pytest.fixture(scope="module")
def lite0_run(shapes_dir, tmp_path_factory) -> Path:
    return train(shapes_dir, tmp_path_factory.mktemp("lite0") / "run", "efficientnet_lite0")


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["onnx", "torch-export"])
def test_the_bundled_backbone_exports_within_tolerance(lite0_run, tmp_path, fmt):
    result = export_run(lite0_run, tmp_path / "model", fmt)
    assert result.images == 8 and result.max_diff <= result.tolerance
    assert result.size > 10 * 2**20  # the weights are inside
    x, expected = validation_batch(lite0_run, 5)
    got = exportformats.LOADERS[fmt](result.path)(x)
    torch.testing.assert_close(got, expected, atol=1e-4 * max(1.0, float(expected.abs().max())),
                               rtol=0)
