"""Atomic writes: a writer killed at any moment leaves the previous version whole."""

from __future__ import annotations

import csv
import errno
import io
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch import nn

import rewriter
from transfer_gui.core import atomic
from transfer_gui.core.analysis.predict import Prediction, write_csv
from transfer_gui.core.data.datasets import Preprocess
from transfer_gui.core.io import bundle
from transfer_gui.core.io.export import export_run
from transfer_gui.core.io.featurestore import FeatureStore
from transfer_gui.core.io.project import Project, load_project, save_project
from transfer_gui.core.io.steplog import StepLog
from transfer_gui.core.models.backbones import get_spec
from transfer_gui.core.models.weights import build_model

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 6


def versions(folder: Path) -> dict[str, int]:
    """The version each file holds, after checking that the file is whole and loadable."""
    weight = load_file(str(folder / bundle.WEIGHTS))["weight"]
    assert weight.shape == (1500, 1500) and bool((weight == weight[0, 0]).all())
    meta = bundle.read_json(folder / bundle.META)
    assert len(meta["history"]) == rewriter.ROWS
    project = load_project(folder / "p.tgproj")
    assert len(project.extra["notes"]) == rewriter.ROWS
    rows = list(csv.DictReader(io.StringIO((folder / "predictions.csv").read_text())))
    labels = {r["label_1"] for r in rows}
    assert len(rows) == rewriter.ROWS and len(labels) == 1
    return {"weights": int(weight[0, 0]), "meta": meta["version"],
            "project": project.extra["version"], "csv": int(labels.pop()[1:])}


def start(folder: Path, first: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    return subprocess.Popen([sys.executable, str(Path(rewriter.__file__)), str(folder),
                             str(first)], stdout=subprocess.PIPE, text=True, env=env)


def wait_for(child: subprocess.Popen, line: str) -> None:
    while (got := child.stdout.readline()) and got.strip() != line:
        pass
    assert got, f"the writer ended before printing {line!r}"


def last_written(output: str, before: dict[str, int]) -> dict[str, int]:
    last = dict(before)
    for name, version in re.findall(r"^(\w+) (\d+)$", output, re.MULTILINE):
        last[name] = int(version)
    return last


TARGETS = (bundle.WEIGHTS, bundle.META, "p.tgproj", "predictions.csv")


@pytest.mark.slow
def test_sigkill_mid_write_keeps_the_previous_version(tmp_path):
    rng = random.Random(7)
    folder, first = tmp_path / "files", 0
    folder.mkdir()
    for round_ in range(ROUNDS):
        target = TARGETS[round_ % len(TARGETS)]
        child = start(folder, first)
        wait_for(child, f"csv {first}")  # every file now has a version from this round
        wait_for(child, f"writing {target}")
        time.sleep(rng.uniform(0.0, 0.03))  # a random moment inside that write
        os.kill(child.pid, signal.SIGKILL)
        rest, _ = child.communicate(timeout=30)
        assert child.returncode == -signal.SIGKILL
        assert list(folder.glob(f".{target}.*.tmp")), f"the kill missed the {target} write"
        last = last_written(rest, dict.fromkeys(("weights", "meta", "project", "csv"), first))
        found = versions(folder)
        for name, version in found.items():
            # the file holds what was last reported, or the next version if the kill came
            # after the rename but before the report
            assert version in (last[name], last[name] + 1), (name, found, last)
        assert found[_KIND[target]] == last[_KIND[target]]  # killed mid-write: the old one
        first = max(found.values()) + 1
    bundle.save_meta(folder, {"version": first})
    assert not list(folder.glob(f".{bundle.META}.*.tmp"))  # the next write sweeps up


_KIND = dict(zip(TARGETS, ("weights", "meta", "project", "csv"), strict=True))


def test_sweep_keeps_temporaries_of_live_writers(tmp_path):
    target = tmp_path / "run.json"
    mine = tmp_path / f".run.json.{os.getpid()}.abc.tmp"
    dead = tmp_path / ".run.json.999999999.abc.tmp"
    other = tmp_path / ".run.json.bak.1.tmp"
    for path in (mine, dead, other):
        path.write_text("partial")
    assert atomic.sweep(target) == 1
    assert mine.exists() and other.exists() and not dead.exists()


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "model.safetensors"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic.atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["model.safetensors"]


def test_json_with_a_file_name_that_is_not_utf8(tmp_path):
    name = os.fsdecode(b"caf\xe9.png")
    atomic.write_json(tmp_path / "split.json", {"train": [[name, 0]]})
    raw = (tmp_path / "split.json").read_bytes()
    raw.decode("utf-8")  # still valid UTF-8
    assert bundle.read_json(tmp_path / "split.json")["train"][0][0] == name


def _writers(folder: Path) -> dict[str, Callable[[int], None]]:
    """Each kind of file the app writes, written as version `v` by the app's own function."""
    spec = get_spec("tiny_cnn")
    model = build_model(spec, 2, pretrained=False)
    run = bundle.LoadedRun(folder, {}, spec, model, ["a", "b"], Preprocess.for_backbone(spec))
    store = FeatureStore({"backbone": "tiny_cnn"}, root=folder)

    def export(v: int) -> None:
        with torch.no_grad():
            model.head.bias.fill_(v)
        export_run(run, folder / "model.pt", "torchscript")

    return {
        "weights": lambda v: bundle.save_weights(folder, nn.Linear(v, 1)),
        "meta": lambda v: bundle.save_meta(folder, {"version": v}),
        "checkpoint": lambda v: bundle.save_checkpoint(folder, {"version": v}),
        "steps": lambda v: StepLog(folder).epoch_done(v),
        "project": lambda v: save_project(Project(extra={"version": v}), folder / "p.tgproj"),
        "predictions": lambda v: write_csv(str(folder / "predictions.csv"),
                                           [Prediction(f"{v}.png", [("a", 1.0)])], 1),
        "features": lambda v: store.add([f"{v:064x}"], np.full((1, 4), v, dtype=np.float32)),
        "export": export,
    }


def _contents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*")
            if p.is_file()}


@pytest.mark.parametrize("kind", ["weights", "meta", "checkpoint", "steps", "project",
                                  "predictions", "features", "export"])
def test_a_write_that_fails_before_it_completes_leaves_the_previous_files(
        tmp_path, monkeypatch, kind):
    """The last moment of a write (the temporary file complete, the rename over the old file
    not yet done) fails, as a crash or a full disk would make it: the write raises, and the
    folder holds exactly what it held before, byte for byte, with no partial file beside."""
    write = _writers(tmp_path)[kind]
    write(1)
    before = _contents(tmp_path)

    def crash(*args, **kwargs):
        raise OSError(errno.EIO, "the disk failed")

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", crash)
        with pytest.raises(OSError, match="the disk failed"):
            write(2)
    assert _contents(tmp_path) == before
    write(2)  # the same write, when nothing fails, does change the folder
    assert _contents(tmp_path) != before
