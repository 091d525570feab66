"""The run folder tells the truth: a full disk, too little space, two writers, a killed writer."""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import namedtuple
from pathlib import Path

import pytest

from transfer_gui.cli import main
from transfer_gui.core.analysis.evaluation import evaluate_run
from transfer_gui.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from transfer_gui.core.data import imagecache
from transfer_gui.core.events import Callback, EpochEnded, Message, Recorder
from transfer_gui.core.io import bundle, diskspace
from transfer_gui.core.io.diskspace import NotEnoughSpace
from transfer_gui.core.io.runlock import INFO, FolderBusy, RunLock, busy, writer_gone
from transfer_gui.core.io.runmeta import run_info
from transfer_gui.core.models.backbones import get_spec
from transfer_gui.core.train import best, features, runrecord
from transfer_gui.core.train.loop import Trainer, TrainingFailed

ROOT = Path(__file__).resolve().parent.parent
Usage = namedtuple("Usage", "total used free")


def config(root, strategy="full", epochs=4, **train) -> RunConfig:
    """Gradient steps in every epoch (no LP-FT probe epoch): each epoch writes the weights and
    a checkpoint with optimizer state for every parameter."""
    train = {"probe_first": False, **train}
    return RunConfig(DataConfig(root=str(root)), ModelConfig(backbone="tiny_cnn",
                                                             strategy=strategy),
                     TrainConfig(epochs=epochs, batch_size=8, **train))


class DiskFullFrom(Callback):
    """From epoch `epoch` on, the disk is full: the weights and checkpoint writes fail as a
    full disk makes them fail (run.json, being small, still fits)."""

    def __init__(self, monkeypatch, epoch: int, files=("weights", "checkpoint")) -> None:
        self.epoch, self.done = epoch, 0
        for name in files:
            real = getattr(bundle, f"save_{name}")
            monkeypatch.setattr(bundle, f"save_{name}", self._full(real))

    def _full(self, real):
        def save(*args, **kwargs):
            if self.done + 1 >= self.epoch:  # saving the end of epoch done + 1
                raise OSError(errno.ENOSPC, "No space left on device")
            return real(*args, **kwargs)

        return save

    def on_epoch_end(self, event: EpochEnded) -> None:
        self.done = event.epoch


def scores(run: Path) -> float:
    """The accuracy of the model on disk over the run's validation split."""
    return evaluate_run(run, device="cpu").result.accuracy


@pytest.fixture()
def every_epoch_best(monkeypatch):
    # each epoch is the best so far, so the failing epoch is one whose model should be saved
    monkeypatch.setattr(best, "better", lambda *args: True)


def test_full_disk_at_epoch_3_leaves_record_message_and_files_agreeing(
        shapes_dir, tmp_path, monkeypatch, every_epoch_best):
    run = tmp_path / "run"
    disk = DiskFullFrom(monkeypatch, 3)
    with pytest.raises(TrainingFailed) as info:
        Trainer().fit(config(shapes_dir), run, [disk])
    meta = bundle.read_meta(run)
    epoch2 = meta["history"][1]
    assert meta["status"] == "failed" and meta["best"]["epoch"] == 2
    assert meta["best"]["val_acc"] == epoch2["val_acc"]
    assert abs(scores(run) - epoch2["val_acc"]) < 1e-6  # the file is the model it names
    message = str(info.value)
    assert f"epoch 3 (val acc {meta['history'][2]['val_acc']:.1%}) was not saved" in message
    assert re.search(r"no space left on the device: its checkpoint needs [\d.]+ [kM]B, "
                     r"[\d.]+ [kMG]B free", message), message
    assert (f"the last good model is {run / bundle.WEIGHTS} (epoch 2, val acc "
            f"{epoch2['val_acc']:.1%})") in message
    assert meta["message"] in message
    assert info.value.saved == runrecord.SavedModel(str(run / bundle.WEIGHTS), 2,
                                                    epoch2["val_acc"], epoch2["val_loss"])
    assert bundle.saved_epoch(run) == 2
    assert meta["checkpoint_epoch"] == 2 == bundle.load_checkpoint(run)["state"]["epoch"]
    assert not [p for p in run.iterdir() if p.suffix == ".tmp"]


def test_resume_after_a_full_disk_starts_from_what_is_on_disk(shapes_dir, tmp_path,
                                                              monkeypatch, every_epoch_best):
    run = tmp_path / "run"
    with pytest.raises(TrainingFailed):
        Trainer().fit(config(shapes_dir), run, [DiskFullFrom(monkeypatch, 3)])
    monkeypatch.undo()  # space is free again
    rec = Recorder()
    result = Trainer().fit(None, run, [rec], resume=True)  # type: ignore[arg-type]
    assert [e.epoch for e in rec.of(EpochEnded)] == [3, 4]
    assert result.status == "completed" and bundle.read_meta(run)["best"]["epoch"] == 4


def test_weights_lost_after_their_checkpoint_are_written_on_resume(shapes_dir, tmp_path,
                                                                   monkeypatch):
    # the checkpoint of the last epoch was saved, then the disk filled before its weights
    run = tmp_path / "run"
    with pytest.raises(TrainingFailed) as info:
        Trainer().fit(config(shapes_dir, epochs=1), run,
                      [DiskFullFrom(monkeypatch, 1, files=("weights",))])
    assert "no model was saved" in str(info.value) and info.value.saved is None
    assert bundle.read_meta(run)["best"]["epoch"] is None
    assert not (run / bundle.WEIGHTS).exists()  # no model claimed, none on disk
    monkeypatch.undo()
    assert Trainer().fit(None, run, [], resume=True).status == "completed"  # type: ignore
    meta = bundle.read_meta(run)
    assert meta["best"]["epoch"] == 1 == bundle.saved_epoch(run)
    assert abs(scores(run) - meta["history"][0]["val_acc"]) < 1e-6


def test_a_run_that_does_not_fit_is_refused_before_anything_is_written(shapes_dir, tmp_path,
                                                                       monkeypatch, capsys):
    monkeypatch.setattr(diskspace.shutil, "disk_usage", lambda _: Usage(10**9, 10**9, 20_000))
    run = tmp_path / "run"
    with pytest.raises(NotEnoughSpace) as info:
        Trainer().fit(config(shapes_dir), run, [])
    message = str(info.value)
    assert message.startswith("not enough free space: this run needs about ")
    assert f"the disk of {run} has 20 kB free" in message and info.value.free == 20_000
    assert info.value.needed > 1_000_000 and not (run / bundle.META).exists()
    args = ["train", str(shapes_dir), "--out", str(run), "--backbone", "tiny_cnn",
            "--epochs", "1"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "error: not enough free space: this run needs about " in err
    assert f"the disk of {run} has 20 kB free" in err and not run.exists()
    monkeypatch.undo()
    assert main(args) == 0  # the same run once there is room


def test_the_estimate_covers_the_files_a_run_writes(shapes_dir, tmp_path):
    run = tmp_path / "run"
    Trainer().fit(config(shapes_dir, epochs=1), run, [])
    loaded = bundle.load_run(run)
    for p in loaded.model.parameters():
        p.requires_grad_(True)  # the full strategy: everything trained
    need = diskspace.estimate(loaded.model, "adamw")
    weights, checkpoint = ((run / n).stat().st_size for n in (bundle.WEIGHTS, bundle.CHECKPOINT))
    assert weights <= need.weights <= weights * 1.5 + 20_000
    assert checkpoint <= need.checkpoint <= checkpoint * 1.5 + 20_000


def test_a_cache_that_cannot_be_written_costs_one_warning_not_the_run(shapes_dir, tmp_path,
                                                                      monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(imagecache, "_reserve", full)  # spilled decoded images
    monkeypatch.setattr(features.FeatureStore, "add", full)  # cached backbone features
    monkeypatch.setenv("TRANSFER_GUI_CACHE_DIR", str(tmp_path / "cache"))
    for strategy, train in (("full", {"cache_memory_mb": 0, "augment": "light"}),
                            ("linear-probe", {"augment": "none"})):
        rec = Recorder()
        result = Trainer().fit(config(shapes_dir, strategy, 2, **train),
                               tmp_path / strategy, [rec])
        assert result.status == "completed"
        warnings = [m.text for m in rec.of(Message) if m.level == "warning"]
        assert len(warnings) == 1 and "No space left on device" in warnings[0], warnings


def test_a_second_writer_is_refused_and_told_who_writes(shapes_dir, tmp_path, capsys):
    run = tmp_path / "run"
    # slow steps: the writer is still at work while the three refusals below are tried
    child = start_child(["train", str(shapes_dir), "--out", str(run), "--backbone",
                         "tiny_cnn", "--epochs", "2", "--batch-size", "8", "--workers", "0"],
                        step_seconds=0.6)
    wait_for_step(child, 1)
    assert main(["train", str(shapes_dir), "--out", str(run), "--backbone", "tiny_cnn",
                 "--epochs", "1"]) == 1
    err = capsys.readouterr().err
    assert f"error: {run} is being written by process {child.pid} on this computer since " \
           in err, err
    assert main(["train", str(shapes_dir), "--out", str(run), "--overwrite"]) == 1
    assert main(["train", "--resume", str(run)]) == 1
    holder = busy(run)  # a reader's view, without the lock
    assert holder is not None and holder.pid == child.pid
    child.stderr.read()
    assert child.wait(timeout=120) == 0  # the first writer was not disturbed
    meta = bundle.read_meta(run)
    assert meta["status"] == "completed" and len(meta["history"]) == 2
    assert busy(run) is None and not (run / INFO).exists()


def test_readers_need_no_lock_and_a_writer_in_this_process_is_refused(shapes_dir, tmp_path):
    run = tmp_path / "run"
    Trainer().fit(config(shapes_dir, epochs=1), run, [])
    lock = RunLock(run)
    best = bundle.read_meta(run)["best"]["val_acc"]
    with lock.held():
        assert scores(run) == pytest.approx(best)  # evaluate reads while the folder is held
        with pytest.raises(FolderBusy, match=f"process {os.getpid()} on this computer"):
            Trainer().fit(None, run, [], resume=True)  # type: ignore[arg-type]
    assert Trainer().fit(None, run, [], resume=True).status == "completed"  # type: ignore


def test_a_killed_writer_is_taken_over_by_resume(shapes_dir, tmp_path, capsys):
    run = tmp_path / "run"
    child = start_child(["train", str(shapes_dir), "--out", str(run), "--backbone",
                         "tiny_cnn", "--strategy", "full", "--epochs", "3", "--batch-size",
                         "8", "--workers", "2"])  # data loader children share the lock
    wait_for_step(child, 2)
    assert run_info(run).status == "running" and not writer_gone(run)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=60)
    assert (run / INFO).exists()  # the dead writer's note is still there
    assert busy(run) is None
    assert bundle.read_meta(run)["status"] == "running"  # what the record says, but
    assert writer_gone(run) and run_info(run).status == "interrupted"  # nothing writes it
    note = json.loads((run / INFO).read_text())  # as if written on another computer: only
    (run / INFO).write_text(json.dumps({**note, "host": "elsewhere"}))  # the lock can tell
    deadline = time.monotonic() + 30  # (the killed writer's loader children let go of it)
    while not writer_gone(run) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert run_info(run).status == "interrupted"
    (run / INFO).write_text(json.dumps(note))
    assert main(["train", "--resume", str(run)]) == 0
    err = capsys.readouterr().err
    assert f"took over {run} from process {child.pid} on this computer since " in err, err
    assert bundle.read_meta(run)["status"] == "completed" and not (run / INFO).exists()


def start_child(args: list[str], step_seconds: float = 0.05) -> subprocess.Popen:
    tiny = Path(get_spec("tiny_cnn").bundled()).parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
           "TRAINCHILD_STEP_SECONDS": str(step_seconds)}
    return subprocess.Popen([sys.executable, str(ROOT / "tests" / "trainchild.py"), str(tiny),
                             *args], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            text=True, env=env)


def wait_for_step(child: subprocess.Popen, epoch: int) -> None:
    """Read the child's steps until the second step of `epoch`."""
    seen = 0
    for line in child.stderr:
        seen += line.strip() == f"epoch {epoch} step"
        if seen == 2:
            return
    pytest.fail(f"the child ended before epoch {epoch}: {child.wait()}")



def test_a_full_disk_reported_as_a_short_write_is_still_named(monkeypatch, tmp_path):
    # torch.save on a full disk raises this RuntimeError, not an OSError (seen on a tmpfs)
    monkeypatch.setattr(diskspace.shutil, "disk_usage", lambda _: Usage(10**8, 10**8, 4_200_000))
    short = RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 2622848 "
                         "vs 2622744")
    assert diskspace.why_not_saved(short, tmp_path, 12_400_000, "its checkpoint") == \
        "no space left on the device: its checkpoint needs 12 MB, 4.2 MB free"
    assert diskspace.why_not_saved(OSError(errno.EROFS, "Read-only file system"), tmp_path,
                                   10) == "read-only file system"
