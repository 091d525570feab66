"""Predict runs a trained run on the kind of device it trained on when this machine has one,
on the CPU otherwise, and its summary says which."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from test_gui_compare import train_run

from gui_helpers import wait_until
from transfer_gui.core.analysis import rundevice
from transfer_gui.core.analysis.predict import Predictor
from transfer_gui.core.analysis.rundevice import prediction_device

GPU = "GPU: NVIDIA H100 80GB HBM3"


@pytest.fixture(scope="module")
def gpu_run(shapes_dir, tmp_path_factory) -> Path:
    """A tiny run whose run.json says it trained on a CUDA GPU."""
    run = Path(train_run(shapes_dir, tmp_path_factory.mktemp("run") / "probe",
                         "linear-probe", 1))
    meta = json.loads((run / "run.json").read_text(encoding="utf-8"))
    meta["device"] = GPU
    (run / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    return run


def test_the_runs_device_when_present_else_the_cpu(gpu_run, monkeypatch, tmp_path):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    place = prediction_device(gpu_run)
    assert place.device == "cpu" and GPU in place.text and "CPU" in place.text
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(rundevice, "device_label", lambda device: "GPU: a test card")
    assert prediction_device(gpu_run) == rundevice.Placement("cuda", "on GPU: a test card")
    cpu_run = tmp_path / "cpu"
    shutil.copytree(gpu_run, cpu_run)
    meta = json.loads((cpu_run / "run.json").read_text(encoding="utf-8"))
    meta["device"] = "CPU (2 cores)"
    (cpu_run / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    assert prediction_device(cpu_run).device == "cpu"  # trained on the CPU: stays there


@pytest.mark.gui
def test_predict_page_uses_the_runs_device(qtbot, window, gpu_run, shapes_dir, monkeypatch):
    asked: list[str] = []
    original = Predictor.from_run.__func__

    def recording(cls, run_dir, device="auto"):
        asked.append(device)
        return original(cls, run_dir, "cpu")  # this machine has no GPU to really use

    window.state.set_run(str(gpu_run))
    window.show_step(4)
    page = window.predict_page
    images = sorted(str(p) for p in (shapes_dir / "circle").iterdir())[:2]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    page.add_paths(images[:1])
    wait_until(qtbot, lambda: len(page.results) == 1 and not page.running, 30)
    assert "on the CPU (the run trained on GPU: NVIDIA H100" in page.summary.text()

    monkeypatch.setattr(Predictor, "from_run", classmethod(recording))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(rundevice, "device_label", lambda device: "GPU: a test card")
    page.cache._key = None  # as when another run is chosen: the predictor is built again
    page.add_paths(images[1:])
    wait_until(qtbot, lambda: len(page.results) == 2 and not page.running, 30)
    assert asked == ["cuda"] and "2 images on GPU: a test card" in page.summary.text()
