"""Joint training and domain adaptation: they help where they should, b = 0 is source-only
training, both folders are used, resume is exact, bad input is refused or skipped clearly."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from imagegen import make_dataset
from oom import fail_above
from runhelpers import StopAfter
from transfer_gui.cli import main
from transfer_gui.core.analysis.evaluation import evaluate_run
from transfer_gui.core.config import (
    ConfigError,
    DataConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
    TransferConfig,
)
from transfer_gui.core.data.datasets import ImageDataset
from transfer_gui.core.data.scan import DataError
from transfer_gui.core.events import Callback, CancelToken, EpochEnded, Message, Recorder
from transfer_gui.core.io import bundle
from transfer_gui.core.models.backbones import TransferNet
from transfer_gui.core.train.autobatch import OutOfMemory
from transfer_gui.core.train.loop import Trainer
from transfer_gui.core.train.steps import Optim
from transfer_gui.core.train.transfer.paired_steps import DomainClassifier, PairedStepper, dann_ramp
from transfer_gui.core.train.transfer.secondfolder import scan_second

# --- the adaptation losses do what they are for -------------------------------------------------
# (that they buy target accuracy on a real shift is a statistical claim over Lite0 runs:
# tests/bench/bench_adapt_shapes.py, figures in tests/bench/BENCHMARKS.md)


@pytest.fixture()
def one_thread():
    """Tensors this small: a second torch thread only waits (measured: 25 times the CPU time
    of one thread for these steps)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def shifted_batches(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A labelled source batch and a target batch from another distribution (scaled and
    moved): what a domain shift looks like to the first layer."""
    g = torch.Generator().manual_seed(seed)
    xs = torch.randn(n, 3, 2, 2, generator=g)
    xt = torch.randn(n, 3, 2, 2, generator=g) * 2 + 1.5
    return xs, xs.flatten(1)[:, :3].argmax(1), xt


def adapted(mode: str, weight: float, steps: int = 60) -> PairedStepper:
    """`steps` paired steps of `mode` at `weight` (0: the same steps without the
    adaptation term)."""
    stepper = paired_stepper(TransferConfig(mode, target_dir="t", adapt_weight=1.0))
    stepper.adapt_weight = weight
    for step in range(steps):
        xs, ys, xt = shifted_batches(32, 100 + step)
        stepper.train(xs, ys, (xt, torch.zeros(32, dtype=torch.long)))
    return stepper


def domain_loss(model: TransferNet, xs: torch.Tensor, xt: torch.Tensor) -> float:
    """The loss of the best linear classifier of source against target features: higher
    means the domains are harder to tell apart."""
    with torch.no_grad():
        feats = torch.cat([model.body(xs), model.body(xt)])
    is_target = torch.cat([torch.zeros(len(xs)), torch.ones(len(xt))])
    torch.manual_seed(0)
    probe = nn.Linear(feats.shape[1], 1)
    optimizer = torch.optim.LBFGS(probe.parameters(), max_iter=200)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.binary_cross_entropy_with_logits(probe(feats).squeeze(1), is_target)
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        return float(F.binary_cross_entropy_with_logits(probe(feats).squeeze(1), is_target))


def test_coral_pulls_the_target_feature_statistics_to_the_source(one_thread):
    from transfer_gui.core.train.transfer.paired_steps import coral_loss

    xs, _, xt = shifted_batches(256, 999)  # held-out images of both domains
    gaps = {}
    for weight in (0.0, 10.0):
        body = adapted("coral", weight).model.body
        with torch.no_grad():
            gaps[weight] = float(coral_loss(body(xs), body(xt)))
    assert gaps[10.0] < gaps[0.0] / 5, gaps  # measured: about 20 times smaller


def test_dann_makes_the_domains_harder_to_tell_apart(one_thread):
    """The reversed gradient trains the features against the domain classifier: a fresh
    linear classifier separates the domains worse than after the same steps without it."""
    xs, _, xt = shifted_batches(256, 999)
    plain, dann = adapted("dann", 0.0), adapted("dann", 1.0)
    losses = domain_loss(plain.model, xs, xt), domain_loss(dann.model, xs, xt)
    assert losses[1] > losses[0] + 0.1, losses  # measured: 0.43 and 0.59 (weight 0.5: 0.56)
    # the domain classifier trained beside the model, on both domains
    assert dann.domain is not None and all(p.grad is not None for p in dann.domain.parameters())


@pytest.fixture(scope="module")
def shifted(tmp_path_factory) -> tuple[Path, Path]:
    """Source: shapes of any colour on plain light backgrounds. Target: the same shapes on
    blocks of random colours (like MNIST -> MNIST-M). Only the shape tells the class."""
    root = tmp_path_factory.mktemp("shift")
    source = make_dataset(root / "source", per_class=6, size=32, any_colour=True)
    target = make_dataset(root / "target", per_class=6, size=32, seed=1, any_colour=True,
                          blocks=True)
    return source, target


@pytest.mark.parametrize(("mode", "weight"), [("dann", 1.0), ("coral", 1000.0)])
def test_an_adapted_run_reports_its_saved_models_target_accuracy(shifted, tmp_path, mode,
                                                                 weight):
    """Fine-tuning with an adaptation loss, every source image training (the last epoch is
    kept): the target accuracy of the last epoch is the saved model's over the target."""
    source, target = shifted
    transfer = TransferConfig(mode, target_dir=str(target), adapt_weight=weight, adapt_layers=2)
    config = RunConfig(DataConfig(root=str(source), seed=0, val_split=0.0),
                       ModelConfig(backbone="tiny_cnn", strategy="fine-tune", unfreeze=2),
                       TrainConfig(epochs=2, batch_size=8, augment="none", seed=0,
                                   num_workers=0, head_epochs=0, probe_first=False),
                       transfer)
    result = Trainer().fit(config, tmp_path / "run")
    assert result.status == "completed" and len(result.history) == 2
    scored = evaluate_run(tmp_path / "run", target, use_all=True).result.accuracy
    assert result.history[-1]["target_acc"] == pytest.approx(scored, abs=1e-9)


# --- joint training -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[Path, Path]:
    """A labelled source (plain shapes, plus a class the target lacks) and target (inverted)."""
    root = tmp_path_factory.mktemp("pair")
    source = make_dataset(root / "source", per_class=10, size=40)
    target = make_dataset(root / "target", per_class=10, size=40, seed=1, invert=True)
    return source, target


def tiny(data: Path, transfer: TransferConfig | None = None, val_split: float = 0.2,
         epochs: int = 2, strategy: str = "full") -> RunConfig:
    return RunConfig(DataConfig(root=str(data), val_split=val_split, seed=5),
                     ModelConfig(backbone="tiny_cnn", strategy=strategy),
                     # a second folder's runs have no probe stage: the plain runs they are
                     # compared with use the same one-stage recipe
                     TrainConfig(epochs=epochs, batch_size=8, augment="light", seed=5,
                                 num_workers=0, probe_first=False),
                     transfer or TransferConfig())


def last_weights(run: Path) -> dict[str, torch.Tensor]:
    return bundle.load_checkpoint(run)["model"]


@pytest.mark.parametrize("strategy", ["full", "linear-probe"])
def test_joint_with_zero_target_weight_is_source_only_training(pair, tmp_path, strategy):
    source, target = pair
    alone = Trainer().fit(tiny(source, val_split=0.0, strategy=strategy), tmp_path / "alone")
    joint = TransferConfig("joint", source_dir=str(source), target_weight=0.0)
    paired = Trainer().fit(tiny(target, joint, strategy=strategy), tmp_path / "joint")
    ours, theirs = last_weights(tmp_path / "joint"), last_weights(tmp_path / "alone")
    assert ours.keys() == theirs.keys()
    diff = max(float((ours[k].float() - theirs[k].float()).abs().max()) for k in ours)
    assert diff <= 1e-6, diff
    assert [h["train_loss"] for h in paired.history] == [h["train_loss"] for h in alone.history]


class Seen:
    """Records every image the training and validation batches load."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.paths: list[str] = []
        load = ImageDataset.__getitem__

        def spy(dataset: ImageDataset, index: int):
            self.paths.append(dataset.samples[index].path)
            return load(dataset, index)

        monkeypatch.setattr(ImageDataset, "__getitem__", spy)

    def under(self, folder: Path) -> set[str]:
        return {p for p in self.paths if Path(p).is_relative_to(folder)}


def test_joint_training_uses_both_folders(pair, tmp_path, monkeypatch):
    source, target = pair
    extra = shutil.copytree(source, tmp_path / "source")
    make_dataset(extra, ("cross",), per_class=4, size=40)  # a class the target lacks
    seen, rec = Seen(monkeypatch), Recorder()
    joint = TransferConfig("joint", source_dir=str(extra), source_weight=0.5, target_weight=2.0)
    result = Trainer().fit(tiny(target, joint, epochs=1), tmp_path / "run", [rec])
    assert result.status == "completed"
    assert any("left out: 'cross'" in m.text for m in rec.of(Message) if m.level == "warning")
    train, val = bundle.load_split(tmp_path / "run")
    assert seen.under(extra) == {str(p) for c in ("circle", "square", "triangle")
                                 for p in (extra / c).iterdir()}  # every source image, once
    assert seen.under(target) == {s.path for s in train + val}  # the target's train and val
    assert rec.of(EpochEnded)[0].target_acc is None  # joint: val_acc is the target's accuracy


def test_joint_with_zero_target_weight_never_loads_target_training_images(pair, tmp_path,
                                                                          monkeypatch):
    source, target = pair
    seen = Seen(monkeypatch)
    joint = TransferConfig("joint", source_dir=str(source), target_weight=0.0)
    Trainer().fit(tiny(target, joint, epochs=1), tmp_path / "run")
    _, val = bundle.load_split(tmp_path / "run")
    assert seen.under(target) == {s.path for s in val}


# --- adaptation runs: resume, refusals, bad files ------------------------------------------------


def test_dann_resumed_matches_uninterrupted(pair, tmp_path):
    source, target = pair
    cfg = tiny(source, TransferConfig("dann", target_dir=str(target)), epochs=3)
    whole = Trainer().fit(cfg, tmp_path / "whole")
    token = CancelToken()
    stopped = Trainer().fit(cfg, tmp_path / "run", [StopAfter(token, 1)], cancel=token)
    assert stopped.status == "cancelled" and len(stopped.history) == 1
    resumed = Trainer().fit(None, tmp_path / "run", resume=True)
    assert resumed.status == "completed"
    keys = ("train_loss", "train_acc", "val_loss", "val_acc", "target_acc")
    assert all(row["target_acc"] is not None for row in resumed.history)
    diff = max(abs(a[k] - b[k]) for a, b in zip(resumed.history, whole.history, strict=True)
               for k in keys)
    ours, theirs = bundle.load_checkpoint(tmp_path / "run"), bundle.load_checkpoint(
        tmp_path / "whole")
    # the domain classifier's state is the pairing hook's part of the checkpoint
    parts = [(ours["model"], theirs["model"]),
             (ours["hooks"]["pairing"]["domain"], theirs["hooks"]["pairing"]["domain"])]
    for mine, other in parts:
        diff = max(diff, *(float((mine[k] - other[k]).abs().max()) for k in mine))
    assert diff <= 1e-6, diff
    saved = load_file(str(tmp_path / "run" / bundle.WEIGHTS))
    assert all(k.startswith(("body.", "head.")) for k in saved)  # a plain TransferNet
    # the resumed run's model scores the target as the uninterrupted run's, and as its record
    # says: the target accuracy of the epoch whose weights it saved
    scored = evaluate_run(tmp_path / "run", target, use_all=True).result.accuracy
    assert scored == evaluate_run(tmp_path / "whole", target, use_all=True).result.accuracy
    row = resumed.history[bundle.saved_epoch(tmp_path / "run") - 1]
    assert scored == pytest.approx(row["target_acc"], abs=1e-9)


def test_adaptation_refuses_a_frozen_backbone(pair, tmp_path):
    source, target = pair
    cfg = tiny(source, TransferConfig("coral", target_dir=str(target)), strategy="linear-probe")
    with pytest.raises(ConfigError, match="every backbone layer is frozen"):
        Trainer().fit(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_target_without_images_is_refused_before_training(pair, tmp_path):
    source, _ = pair
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "sub" / "notes.txt").write_text("no images here")
    cfg = tiny(source, TransferConfig("dann", target_dir=str(empty)))
    with pytest.raises(DataError, match="holds no usable images"):
        Trainer().fit(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_target_labels_only_from_class_sub_folders(pair, tmp_path):
    source, target = pair
    cfg = tiny(source, TransferConfig("dann", target_dir=str(target)))
    classes = ["circle", "square", "triangle"]
    labelled = scan_second(cfg, classes)
    assert len(labelled.labelled) == len(labelled.train) == 30
    assert {s.label for s in labelled.train} == {0}  # training never sees target labels
    assert [s.label for s in labelled.labelled] == [i for i in range(3) for _ in range(10)]
    loose = shutil.copytree(target, tmp_path / "loose")
    shutil.copy(loose / "circle" / "circle_000.png", loose / "stray.png")
    cfg = dataclasses.replace(cfg, transfer=TransferConfig("dann", target_dir=str(loose)))
    unlabelled = scan_second(cfg, classes)
    assert len(unlabelled.train) == 31 and unlabelled.labelled == []


class BreakAfterScan(Callback):
    """Truncates a target image once the target folder has been scanned."""

    def __init__(self, image: Path) -> None:
        self.image = image

    def on_message(self, event: Message) -> None:
        if event.text.startswith("target folder"):
            self.image.write_bytes(self.image.read_bytes()[:100])


def test_bad_target_files_are_reported_and_skipped(pair, tmp_path):
    source, target = pair
    target = shutil.copytree(target, tmp_path / "target")
    (target / "square" / "broken.png").write_bytes(b"not an image")
    breaker, rec = BreakAfterScan(target / "circle" / "circle_004.png"), Recorder()
    cfg = tiny(source, TransferConfig("coral", target_dir=str(target)))
    result = Trainer().fit(cfg, tmp_path / "run", [breaker, rec])
    assert result.status == "completed"
    warnings = [m.text for m in rec.of(Message) if m.level == "warning"]
    assert any("1 file skipped" in w and "broken.png" in w for w in warnings), warnings
    assert any(str(breaker.image) in w and "left out" in w for w in warnings), warnings
    meta = bundle.read_meta(tmp_path / "run")
    assert [r["path"] for r in meta["unreadable"]] == [str(breaker.image)]
    assert all(row["target_acc"] is not None for row in meta["history"])


# --- out of memory ----------------------------------------------------------------------------

def paired_stepper(transfer: TransferConfig, limit: int | None = None) -> PairedStepper:
    torch.manual_seed(0)
    model = TransferNet(nn.Sequential(nn.Flatten(), nn.Linear(12, 6), nn.ReLU()), nn.Linear(6, 3))
    domain = DomainClassifier(6, hidden=8)
    if limit is not None:
        model.body.register_forward_pre_hook(fail_above(limit))
    optimizer = torch.optim.SGD([*model.parameters(), *domain.parameters()], lr=0.1)
    scheduler = torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)
    scheduler.last_epoch = 5  # half way: the gradient reversal is on
    return PairedStepper(model, lambda m, x: m(x), Optim(optimizer, scheduler),
                         torch.device("cpu"), transfer=transfer, total_steps=10, domain=domain)


@pytest.mark.parametrize("mode", ["joint", "dann"])
@pytest.mark.parametrize("sizes", [(16, 12), (2, 26)])  # (2, 26): chunks without source images
def test_a_split_paired_step_equals_the_whole_batch(mode, sizes):
    transfer = TransferConfig(mode, source_dir="s", target_dir="t", target_weight=0.7)
    x, y = torch.randn(sizes[0], 3, 2, 2), torch.randint(0, 3, (sizes[0],))
    other = torch.randn(sizes[1], 3, 2, 2), torch.randint(0, 3, (sizes[1],))
    whole, split = paired_stepper(transfer), paired_stepper(transfer, limit=8)
    torch.testing.assert_close(whole.train(x, y, other), split.train(x, y, other))
    assert split.pair_chunking.chunks == 4
    for module in ("model", "domain"):
        for p, q in zip(getattr(whole, module).parameters(), getattr(split, module).parameters(),
                        strict=True):
            torch.testing.assert_close(p, q)
    assert 0.9 < dann_ramp(0.5) < 1 and dann_ramp(0) == 0


def test_a_coral_step_that_does_not_fit_stops_clearly():
    stepper = paired_stepper(TransferConfig("coral", target_dir="t"), limit=8)
    x, y = torch.randn(8, 3, 2, 2), torch.randint(0, 3, (8,))
    with pytest.raises(OutOfMemory, match="cannot be split"):
        stepper.train(x, y, (torch.randn(8, 3, 2, 2), torch.zeros(8, dtype=torch.long)))


# --- command line -------------------------------------------------------------------------


def test_cli_adaptation_and_joint_flags(pair, tmp_path, capsys):
    source, target = pair
    common = ["--backbone", "tiny_cnn", "--epochs", "1", "--batch-size", "8"]
    run = tmp_path / "adapt"
    assert main(["train", str(source), "--target-unlabeled", str(target), "--adapt", "coral",
                 "--adapt-weight", "5", "--out", str(run), "--json", *common]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    epoch = next(e for e in lines if e["event"] == "EpochEnded")
    # the one epoch's model is the saved one: its accuracy on the target folder, scored apart
    assert epoch["target_acc"] == pytest.approx(
        evaluate_run(run, str(target), device="cpu").result.accuracy)
    config = bundle.read_meta(run)["config"]
    assert config["transfer"] == {**config["transfer"], "mode": "coral", "adapt_weight": 5.0,
                                  "target_dir": str(target.resolve())}
    assert config["model"]["strategy"] == "fine-tune"  # adaptation needs a trainable backbone

    run = tmp_path / "joint"
    assert main(["train", str(target), "--joint-source", str(source), "--source-weight", "0.5",
                 "--target-weight", "2", "--out", str(run), *common]) == 0
    out = capsys.readouterr().out
    assert "epoch 1/1: train loss" in out and "target acc" not in out
    transfer = bundle.read_meta(run)["config"]["transfer"]
    assert (transfer["mode"], transfer["source_weight"], transfer["target_weight"]) == (
        "joint", 0.5, 2.0)

    with pytest.raises(SystemExit):
        main(["train", str(target), "--joint-source", str(source), "--target-unlabeled",
              str(target), "--out", str(tmp_path / "both")])
    assert "not both" in capsys.readouterr().err
