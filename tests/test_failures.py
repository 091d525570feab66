"""Failures during a run: files that break after the scan, errors that stop training."""

from __future__ import annotations

import json
import os
import shutil

import pytest
import torch

from runhelpers import tiny_config as config
from transfer_gui.cli import main
from transfer_gui.core.data import datasets
from transfer_gui.core.events import Callback, EpochEnded, FitEnded, Message, Recorder
from transfer_gui.core.io import bundle
from transfer_gui.core.train.loop import Trainer, TrainingFailed
from transfer_gui.core.train.recipe import make_scheduler


@pytest.fixture()
def data(shapes_dir, tmp_path):
    return shutil.copytree(shapes_dir, tmp_path / "data")


class BreakAfterScan(Callback):
    """Once the folder has been scanned, truncate one image and delete another."""

    def __init__(self, data) -> None:
        self.truncated = data / "circle" / "circle_003.png"
        self.deleted = data / "square" / "square_005.png"

    def on_message(self, event: Message) -> None:
        if event.text.startswith("data:"):
            raw = self.truncated.read_bytes()
            self.truncated.write_bytes(raw[: len(raw) // 3])
            self.deleted.unlink()


@pytest.mark.parametrize("strategy,augment", [pytest.param("full", "light", marks=pytest.mark.slow),
                                              ("linear-probe", "none")])
def test_file_breaking_during_training_is_reported_not_fatal(data, tmp_path, monkeypatch,
                                                             strategy, augment):
    # an empty feature cache: features cached by other tests for these very images (same
    # bytes at scan time) would spare the linear probe from reading the broken files at all
    monkeypatch.setenv("TRANSFER_GUI_CACHE_DIR", str(tmp_path / "cache"))
    breaker, rec = BreakAfterScan(data), Recorder()
    result = Trainer().fit(config(data, strategy, augment=augment), tmp_path / "run",
                           [breaker, rec])
    assert result.status == "completed" and len(result.history) == 3
    warnings = [m.text for m in rec.of(Message) if m.level == "warning"]
    assert any(str(breaker.truncated) in w and "truncated" in w for w in warnings), warnings
    assert any(str(breaker.deleted) in w and "not found" in w for w in warnings), warnings
    meta = bundle.read_meta(tmp_path / "run")
    assert {r["path"] for r in meta["unreadable"]} == {str(breaker.truncated),
                                                       str(breaker.deleted)}


def test_evaluate_names_files_gone_since_training(data, tmp_path, capsys):
    Trainer().fit(config(data, epochs=1), tmp_path / "run", [])
    _, val = bundle.load_split(tmp_path / "run")
    gone = val[0].path
    os.unlink(gone)
    assert main(["evaluate", str(tmp_path / "run"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert sum(map(sum, report["confusion"])) == len(val) - 1
    assert report["problems"] == [{"path": gone, "reason": "file not found (moved or deleted)",
                                   "severity": "error"}]


class FailAt(Callback):
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_end(self, event: EpochEnded) -> None:
        if event.epoch == self.epoch:
            raise RuntimeError("the display went away")


def test_failure_keeps_the_best_model_and_says_where(data, tmp_path):
    rec = Recorder()
    with pytest.raises(TrainingFailed) as info:
        Trainer().fit(config(data, epochs=5), tmp_path / "run", [rec, FailAt(3)])
    assert isinstance(info.value.__cause__, RuntimeError)
    meta = bundle.read_meta(tmp_path / "run")
    assert meta["status"] == "failed" and len(meta["history"]) == 3
    assert "RuntimeError: the display went away" in meta["message"]
    assert "the display went away" in meta["traceback"]
    best = meta["best"]["epoch"]
    where = f"{tmp_path / 'run' / 'model.safetensors'} (epoch {best}"
    assert where in meta["message"] and where in str(info.value)
    ended = rec.of(FitEnded)[0]
    assert ended.status == "failed" and where in ended.message
    assert bundle.load_run(tmp_path / "run").model.num_classes == 3


def test_data_error_mid_training_fails_cleanly_through_the_cli(data, tmp_path, monkeypatch,
                                                                capsys):
    real, calls = datasets.load_base, []

    def flaky(path, size):
        calls.append(path)
        if len(calls) > 50:  # the first epoch (39 + 9 images) goes through
            raise RuntimeError("the network share vanished")
        return real(path, size)

    monkeypatch.setattr(datasets, "load_base", flaky)
    code = main(["train", str(data), "--out", str(tmp_path / "run"), "--backbone", "tiny_cnn",
                 "--strategy", "full", "--epochs", "3", "--batch-size", "8",
                 "--no-probe-first",  # every epoch reads the images the same way
                 "--no-decode-cache"])  # decode every epoch, so the share fails mid-run
    out, err = capsys.readouterr()
    assert code == 1
    assert "error: training failed: RuntimeError: the network share vanished" in err
    assert "model.safetensors (epoch 1" in err
    assert "Failed after 1 epoch in" in out
    meta = bundle.read_meta(tmp_path / "run")
    assert meta["status"] == "failed" and meta["epochs_done"] == 1
    assert bundle.load_run(tmp_path / "run").model.num_classes == 3


def test_failure_before_the_first_epoch_still_leaves_a_loadable_model(data, tmp_path,
                                                                       monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("no luck")

    monkeypatch.setattr(datasets, "load_base", broken)
    with pytest.raises(TrainingFailed, match="no epoch finished"):
        Trainer().fit(config(data, "full", epochs=2), tmp_path / "run", [])
    assert bundle.read_meta(tmp_path / "run")["status"] == "failed"
    assert bundle.load_run(tmp_path / "run").model.num_classes == 3


@pytest.mark.parametrize(("schedule", "start"), [("onecycle", 1 / 25), ("cosine", 0.1),
                                               ("constant", 1.0)])
def test_schedules_survive_very_short_runs(schedule, start):
    for total in range(1, 12):  # OneCycleLR divided by zero at exactly 4 steps
        optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=1e-3)
        scheduler = make_scheduler(optimizer, schedule, total)
        rates = []
        for _ in range(total):
            rates.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
        # every step had a rate above zero, never past the peak, and from 4 steps on (a
        # warm-up of at least one step) it starts where the schedule starts
        assert all(0 < r <= 1e-3 * (1 + 1e-9) for r in rates), (total, rates)
        assert total < 4 or rates[0] == pytest.approx(start * 1e-3), (total, rates)
        assert scheduler.last_epoch == total
