"""Resume: a run stopped or killed and then resumed ends exactly like one that never stopped."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from runhelpers import StopAfter
from transfer_gui.cli import build_parser, main, train_config
from transfer_gui.core.events import CancelToken, EpochEnded, FitStarted, Recorder
from transfer_gui.core.io import bundle
from transfer_gui.core.io.steplog import STEPS, read_steps
from transfer_gui.core.models.backbones import get_spec
from transfer_gui.core.train.loop import Trainer

ROOT = Path(__file__).resolve().parent.parent
EPOCHS = 5
CASES = {  # the image path with augmentation, and the cached-features path
    "images": ["--strategy", "full", "--augment", "light"],
    "features": ["--strategy", "linear-probe", "--augment", "none"],
}
KEYS = ("train_loss", "train_acc", "val_loss", "val_acc", "lr")


def train_args(data, out, case: str) -> list[str]:
    return ["train", str(data), "--out", str(out), "--backbone", "tiny_cnn", *CASES[case],
            "--epochs", str(EPOCHS), "--batch-size", "8", "--seed", "3", "--workers", "0",
            "--json"]


@pytest.fixture(scope="module")
def reference(shapes_dir, tmp_path_factory) -> dict[str, Path]:
    """One uninterrupted run per case."""
    runs = {}
    for case in CASES:
        runs[case] = tmp_path_factory.mktemp("reference") / case
        assert main(train_args(shapes_dir, runs[case], case)) == 0
    return runs


def differences(run: Path, ref: Path) -> float:
    """The largest difference between two runs' metrics and best weights, after checking
    that the resumed one is complete."""
    meta, expected = bundle.read_meta(run), bundle.read_meta(ref)
    assert meta["status"] == "completed" and meta["epochs_done"] == EPOCHS
    assert [h["epoch"] for h in meta["history"]] == list(range(1, EPOCHS + 1))
    assert meta["best"]["epoch"] == expected["best"]["epoch"]
    diff = max(abs(a[k] - b[k]) for a, b in zip(meta["history"], expected["history"],
                                                  strict=True) for k in KEYS)
    ours, theirs = load_file(str(run / bundle.WEIGHTS)), load_file(str(ref / bundle.WEIGHTS))
    diff = max(diff, *(float((ours[k].float() - theirs[k].float()).abs().max()) for k in ours))
    assert bundle.load_run(run).model.num_classes == 3
    return max(diff, steps_difference(run, ref))


def steps_difference(run: Path, ref: Path) -> float:
    """The run folder keeps every step's loss: after a resume, exactly one line per epoch,
    the same steps as the uninterrupted run's."""
    ours, theirs = read_steps(run), read_steps(ref)
    lines = (run / STEPS).read_text().splitlines()
    assert [s["epoch"] for s in ours] == list(range(1, EPOCHS + 1)) == [
        json.loads(line)["epoch"] for line in lines]
    assert [s["batch"] for s in ours] == [s["batch"] for s in theirs]
    return max(abs(a - b) for x, y in zip(ours, theirs, strict=True)
               for k in ("loss", "lr") for a, b in zip(x[k], y[k], strict=True))


# the tests that compare with `reference` are slow: its two uninterrupted runs take ~10 s
@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_cancelled_then_resumed_matches_uninterrupted(shapes_dir, tmp_path, reference, case,
                                                      capsys):
    run = tmp_path / "run"
    config = train_config(build_parser().parse_args(train_args(shapes_dir, run, case)))
    token = CancelToken()
    result = Trainer().fit(config, run, [StopAfter(token, 2)], cancel=token)
    assert result.status == "cancelled" and len(result.history) == 2
    assert bundle.read_meta(run)["status"] == "cancelled"
    before = bundle.read_meta(run)["seconds"]
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--json"]) == 0
    out = capsys.readouterr().out
    assert '"start_epoch": 2' in out
    # the end of a resumed run reports the whole run's time, as run.json keeps it
    ended = [json.loads(line) for line in out.splitlines() if '"FitEnded"' in line][-1]
    total = bundle.read_meta(run)["seconds"]
    assert total > before > 0 and ended["seconds"] == pytest.approx(total, abs=0.05)
    diff = differences(run, reference[case])
    print(f"\ncancelled after epoch 2 and resumed ({case}): largest difference {diff:.2e}")
    assert diff <= 1e-4
    assert bundle.read_meta(run)["resumed"] == 1


def kill_during(args: list[str], epoch: int) -> None:
    """Run `train` in a child process and SIGKILL it at the second step of `epoch`."""
    tiny = Path(get_spec("tiny_cnn").bundled()).parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    child = subprocess.Popen([sys.executable, str(ROOT / "tests" / "trainchild.py"), str(tiny),
                              *args], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             text=True, env=env)
    seen = 0
    for line in child.stderr:
        seen += line.strip() == f"epoch {epoch} step"
        if seen == 2:
            os.kill(child.pid, signal.SIGKILL)
            break
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL, "the run ended before it could be killed"


# "images" is a full fine-tune from a converged probe: its epoch 1 (the probe) has no steps
@pytest.mark.slow
@pytest.mark.parametrize("case,epoch", [("images", 2), ("features", 3), ("features", 1)])
def test_killed_mid_epoch_then_resumed_matches_uninterrupted(shapes_dir, tmp_path, reference,
                                                             case, epoch):
    run = tmp_path / "run"
    kill_during(train_args(shapes_dir, run, case), epoch)
    meta = bundle.read_meta(run)
    assert meta["status"] == "running" and meta["epochs_done"] == epoch - 1
    assert bundle.has_checkpoint(run) == (epoch > 1)
    rec = Recorder()
    result = Trainer().fit(None, run, [rec], resume=True)  # type: ignore[arg-type]
    assert rec.of(FitStarted)[0].start_epoch == epoch - 1
    assert [e.epoch for e in rec.of(EpochEnded)] == list(range(epoch, EPOCHS + 1))
    assert result.status == "completed"
    diff = differences(run, reference[case])
    print(f"\nkilled in epoch {epoch} and resumed ({case}): largest difference {diff:.2e}")
    assert diff <= 1e-4


@pytest.mark.slow
def test_resuming_a_finished_run_changes_nothing(reference, tmp_path, capsys):
    run = shutil.copytree(reference["features"], tmp_path / "run")
    before = bundle.read_meta(run)["history"]
    assert main(["train", "--resume", str(run)]) == 0
    assert "Finished after 5 epochs" in capsys.readouterr().out
    assert bundle.read_meta(run)["history"] == before
    assert torch.equal(load_file(str(run / bundle.WEIGHTS))["head.weight"],
                       load_file(str(reference["features"] / bundle.WEIGHTS))["head.weight"])


def test_resume_needs_a_run_folder(tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path)]) == 1
    assert "is not a run folder" in capsys.readouterr().err


@pytest.mark.slow
def test_a_checkpoint_with_an_older_schedule_state_still_resumes(shapes_dir, tmp_path,
                                                                  reference, capsys):
    """A checkpoint whose scheduler state this release cannot load (an older kind of schedule)
    resumes on the same rates: the schedule is walked forward by the steps taken."""
    run = tmp_path / "run"
    config = train_config(build_parser().parse_args(train_args(shapes_dir, run, "features")))
    token = CancelToken()
    Trainer().fit(config, run, [StopAfter(token, 2)], cancel=token)
    checkpoint = torch.load(run / bundle.CHECKPOINT, weights_only=True)
    checkpoint["scheduler"] = {"phase": 1, "step_in_phase": 3}  # not torch's format
    torch.save(checkpoint, run / bundle.CHECKPOINT)
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--json"]) == 0
    assert "older release" in capsys.readouterr().err
    assert differences(run, reference["features"]) <= 1e-4
