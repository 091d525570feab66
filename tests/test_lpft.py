"""LP-FT fine-tuning: the linear-probe strategy's probe first (its features computed once),
layer-wise decayed rates in the optimizer, and a run that never ends worse than its probe."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from imagegen import make_dataset
from transfer_gui.cli import main
from transfer_gui.core.analysis.evaluation import evaluate_run
from transfer_gui.core.config import (
    LPFT_MAX_EPOCHS,
    LPFT_MIN_STEPS,
    DataConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
    TransferConfig,
    lpft_epochs,
)
from transfer_gui.core.data.batches import epoch_order
from transfer_gui.core.events import Callback, EpochEnded, Message, Recorder
from transfer_gui.core.io import bundle
from transfer_gui.core.train import loop as training
from transfer_gui.core.train import lpft, recipe
from transfer_gui.core.train.best import beats_probe
from transfer_gui.core.train.loop import Trainer
from transfer_gui.core.train.lpft import KEPT_PROBE, UNBEATABLE


def config(root, strategy="fine-tune", **train) -> RunConfig:
    train.setdefault("batch_size", 8)
    return RunConfig(DataConfig(root=str(root)), ModelConfig(backbone="tiny_cnn",
                                                             strategy=strategy),
                     TrainConfig(**train))


def keep_prepared(monkeypatch) -> dict:
    """Catch the `Prepared` run that `Trainer.fit` builds (its model is the one that trains)."""
    built: dict = {}
    real = training.prepare

    def spy(*args, **kwargs):
        built["prep"] = real(*args, **kwargs)
        return built["prep"]

    monkeypatch.setattr(training, "prepare", spy)
    return built


def test_defaults_are_probe_first_with_decayed_rates(shapes_dir):
    for strategy in ("fine-tune", "full"):
        train = config(shapes_dir, strategy).resolved().train
        assert train.probe_first and train.freeze_bn and train.head_epochs == 0
        assert train.layer_decay is not None and 0 < train.layer_decay < 1
    old = config(shapes_dir, probe_first=False).resolved().train
    assert old.head_epochs == 2 and old.layer_decay is None and not old.freeze_bn
    for strategy in ("linear-probe", "scratch"):
        assert not config(shapes_dir, strategy).resolved().train.probe_first


def test_a_fine_tune_that_hurts_keeps_the_probe(shapes_dir, tmp_path):
    """A learning rate of 20 wrecks the network in the first fine-tuning step (it then
    answers one class): the run must end with the probe's weights, say so, and record the
    probe as its best epoch."""
    rec = Recorder()
    result = Trainer().fit(config(shapes_dir, epochs=3, lr=20.0), tmp_path / "run", [rec])
    epochs = rec.of(EpochEnded)
    probe_acc = epochs[0].val_acc
    assert [e.is_best for e in epochs] == [True, False, False]
    assert all(e.val_acc < probe_acc for e in epochs[1:])  # fine-tuning did hurt
    assert result.status == "completed" and result.best_epoch == 1
    assert result.message == KEPT_PROBE
    assert any(m.text == KEPT_PROBE for m in rec.of(Message))
    meta = bundle.read_meta(tmp_path / "run")
    assert meta["best"]["epoch"] == 1 and meta["kept_probe"] and meta["message"] == KEPT_PROBE
    assert meta["history"][0]["stage"] == "probe"
    # the saved model is the probe: it scores the probe's validation accuracy
    assert evaluate_run(tmp_path / "run").result.accuracy == pytest.approx(probe_acc)


def test_dann_after_a_better_probe_keeps_its_last_epoch_and_says_so(shapes_dir, tmp_path):
    """DANN trains on after the probe and keeps its last epoch (the target's labels are never
    seen, so the source's validation cannot choose): even when fine-tuning scores below the
    probe on the source, the run must not say it kept the probe."""
    target = make_dataset(tmp_path / "target", per_class=4, seed=3, blocks=True)
    cfg = dataclasses.replace(config(shapes_dir, epochs=3, lr=20.0),
                              transfer=TransferConfig("dann", target_dir=str(target)))
    result = Trainer().fit(cfg, tmp_path / "run", [])
    history = result.history
    assert result.status == "completed" and history[0]["stage"] == "probe"
    assert history[-1]["val_acc"] < history[0]["val_acc"]  # the probe scored best
    meta = bundle.read_meta(tmp_path / "run")
    assert result.message != KEPT_PROBE and not meta.get("kept_probe")
    assert meta["adaptation"]["kept"] == "last epoch" and meta["adaptation"]["epoch"] == 3


def test_a_tie_with_the_probe_keeps_the_probe(shapes_dir, tmp_path):
    """With a learning rate too small to change a weight, fine-tuning matches the probe but
    does not beat it; equal accuracy is not an improvement."""
    result = Trainer().fit(config(shapes_dir, epochs=2, lr=1e-9), tmp_path / "run", [])
    assert result.best_epoch == 1 and result.message == KEPT_PROBE
    history = result.history
    assert history[1]["val_acc"] == history[0]["val_acc"]


def test_a_lead_of_one_validation_image_keeps_the_probe():
    """The best of many fine-tuning epochs against the probe's one score: one more image right
    is within the noise, two more replace the probe."""
    probe = 45 / 60
    assert not beats_probe(46 / 60, probe, 60)
    assert beats_probe(47 / 60, probe, 60)
    assert not beats_probe(probe, probe, None) and beats_probe(46 / 60, probe, None)


def test_auto_epochs_give_few_images_enough_fine_tuning_steps(shapes_dir, tmp_path):
    """With epochs on auto, a probe-first run on few images gets enough epochs for
    LPFT_MIN_STEPS fine-tuning steps, says so, and stores them (a resume runs the same);
    given epochs stay as given, and many images keep the default."""
    rec = Recorder()
    cfg = config(shapes_dir, batch_size=64, lr=1e-9)
    result = Trainer().fit(cfg, tmp_path / "auto", [rec])
    meta = bundle.read_meta(tmp_path / "auto")
    steps = len(epoch_order(meta["split"]["train"], 64, 0, 0))
    epochs = meta["config"]["train"]["epochs"]
    default = cfg.resolved().train.epochs
    assert epochs == lpft_epochs(default, steps) > default
    assert len(result.history) == epochs
    assert any("epochs (auto)" in m.text for m in rec.of(Message))
    assert lpft_epochs(default, 10_000) == default  # many images: the default
    assert lpft_epochs(default, 5) == 1 + LPFT_MIN_STEPS // 5  # 17 epochs of 5 steps
    assert lpft_epochs(default, 1) == LPFT_MAX_EPOCHS
    given = Trainer().fit(config(shapes_dir, epochs=3, lr=1e-9), tmp_path / "given", [])
    assert len(given.history) == 3


def test_stage_one_is_the_linear_probe_strategys_probe(shapes_dir, tmp_path):
    """Stage 1 trains the head as a "linear-probe" run does (its epochs, rate and schedule,
    the epoch best on validation kept): the same head, so the same validation scores."""
    probe = Trainer().fit(config(shapes_dir, "linear-probe"), tmp_path / "probe", [])
    best = probe.history[probe.best_epoch - 1]
    tuned = Trainer().fit(config(shapes_dir, epochs=2, lr=1e-9), tmp_path / "ft", [])
    stage1 = tuned.history[0]
    assert stage1["stage"] == "probe"
    assert stage1["val_acc"] == pytest.approx(best["val_acc"])
    assert stage1["val_loss"] == pytest.approx(best["val_loss"], rel=1e-4)


def test_the_old_recipe_has_no_probe_stage(shapes_dir, tmp_path):
    rec = Recorder()
    plain = Trainer().fit(config(shapes_dir, epochs=3, probe_first=False), tmp_path / "b",
                          [rec])
    assert KEPT_PROBE not in plain.message and "stage" not in plain.history[0]
    assert any(m.text.startswith("stage 1: the head alone") for m in rec.of(Message))


class BodyCalls:
    """Counts the images through the body's forward, and notes them at epoch 1's end."""

    def __init__(self, body: torch.nn.Module) -> None:
        self.images = 0
        self.training_calls = 0
        body.register_forward_hook(self._hook)

    def _hook(self, module, args, output) -> None:
        self.images += len(args[0])
        self.training_calls += int(torch.is_grad_enabled() and module.training)


def test_stage_one_runs_the_body_once_over_each_image(shapes_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSFER_GUI_CACHE_DIR", str(tmp_path / "cache"))  # nothing cached
    built = keep_prepared(monkeypatch)
    calls: dict = {}

    class Spy(Callback):
        def on_fit_start(self, event) -> None:
            calls["spy"] = BodyCalls(built["prep"].model.body)

        def on_epoch_end(self, event: EpochEnded) -> None:
            if event.epoch == 1:
                calls["probe"] = calls["spy"].images
                calls["probe_training"] = calls["spy"].training_calls

    Trainer().fit(config(shapes_dir, epochs=2), tmp_path / "run", [Spy()])
    prep = built["prep"]
    assert calls["probe"] == len(prep.train) + len(prep.val)  # one pass, every image once
    assert calls["probe_training"] == 0  # no gradient step in stage 1
    assert calls["spy"].images > calls["probe"]  # stage 2 did run the body


def test_recipe_fields_reach_the_optimizer(shapes_dir, tmp_path, monkeypatch):
    made: list = []
    real = recipe.make_optimizer

    def spy(*args, **kwargs):
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(training, "make_optimizer", spy)
    cfg = config(shapes_dir, "full", epochs=2, lr=1e-3, layer_decay=0.5, schedule="constant",
                 weight_decay=0.02)
    built = keep_prepared(monkeypatch)
    Trainer().fit(cfg, tmp_path / "run", [])
    rates = {g["name"]: g["lr"] for g in made[0].param_groups}
    assert rates == pytest.approx({"head": 1e-3, "stage2": 5e-4, "stage1": 2.5e-4,
                                   "stem": 1.25e-4})
    decays = {g["weight_decay"] for g in made[0].param_groups if g["params"][0].ndim > 1}
    assert decays == {0.02}
    bn = built["prep"].model.body.stage2[1]  # frozen statistics: the pretrained ones stay
    assert bn.num_batches_tracked.item() == 0


def test_bn_statistics_update_when_asked(shapes_dir, tmp_path, monkeypatch):
    built = keep_prepared(monkeypatch)
    Trainer().fit(config(shapes_dir, "full", epochs=2, freeze_bn=False), tmp_path / "run", [])
    assert built["prep"].model.body.stage2[1].num_batches_tracked.item() > 0


def test_cli_recipe_options(shapes_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", str(shapes_dir), "--out", str(out), "--backbone", "tiny_cnn",
                 "--strategy", "fine-tune", "--epochs", "2", "--layer-decay", "0.6",
                 "--bn-stats", "update", "--batch-size", "8"]) == 0
    train = bundle.read_meta(out)["config"]["train"]
    assert train["layer_decay"] == 0.6 and train["freeze_bn"] is False
    assert main(["train", str(shapes_dir), "--out", str(tmp_path / "old"), "--backbone",
                 "tiny_cnn", "--strategy", "fine-tune", "--epochs", "3", "--no-probe-first",
                 "--batch-size", "8"]) == 0
    old = bundle.read_meta(tmp_path / "old")
    assert old["config"]["train"]["probe_first"] is False
    assert "stage" not in old["history"][0]
    capsys.readouterr()


def probe_meta(root, val, train, strategy="linear-probe") -> dict:
    return {"config": {"model": {"strategy": strategy}, "data": {"root": str(root)}},
            "best": {"epoch": 2, "val_acc": val},
            "history": [{"epoch": 1, "train_acc": 0.5}, {"epoch": 2, "train_acc": train}]}


def test_advice_after_a_probe(tmp_path):
    from transfer_gui.core.analysis.advice import probe_advice

    low = probe_advice(probe_meta(tmp_path, 0.71, 0.74), str(tmp_path))
    assert "71.0%" in low and "Fine-tune top" in low and "well below 100 %" in low
    gap = probe_advice(probe_meta(tmp_path, 0.9, 1.0), str(tmp_path))
    assert "wide train/validation gap" in gap
    assert "little to gain" in probe_advice(probe_meta(tmp_path, 0.99, 1.0), str(tmp_path))
    assert probe_advice(probe_meta(tmp_path, 0.7, 0.7, "fine-tune"), str(tmp_path)) == ""
    assert probe_advice(probe_meta(tmp_path, 0.7, 0.7), str(tmp_path / "other")) == ""


def test_a_probe_that_cannot_be_beaten_ends_the_run(tmp_path):
    """A probe right on every validation image leaves fine-tuning nothing to win (it would
    need two more images right): the run stops after the probe and says why, in the events,
    the result and run.json, instead of spending its automatic epochs."""
    data = make_dataset(tmp_path / "shapes", per_class=20, size=96, fmt="jpg")
    cfg = RunConfig(DataConfig(root=str(data)),
                    ModelConfig(backbone="efficientnet_lite0", strategy="fine-tune"),
                    TrainConfig(image_size=64))
    rec = Recorder()
    result = Trainer().fit(cfg, tmp_path / "run", [rec])
    assert result.history[0]["stage"] == "probe" and result.history[0]["val_acc"] == 1.0
    assert len(result.history) == 1 and result.best_epoch == 1
    assert result.status == "early-stopped" and result.message.startswith(UNBEATABLE)
    assert any(m.text == result.message for m in rec.of(Message))
    meta = bundle.read_meta(tmp_path / "run")
    epochs = meta["config"]["train"]["epochs"]
    assert epochs > 1 and f"{epochs - 1} fine-tuning epochs not run" in result.message
    assert meta["kept_probe"] and meta["fine_tuning_skipped"]
    assert meta["status"] == "early-stopped" and meta["message"] == result.message


def probe_missing(monkeypatch, missed: int) -> None:
    """The probe's score set to `missed` validation images wrong (the rule under test, on a
    network too small to solve the data for real)."""
    real = lpft.fit_probe

    def scored(fit):
        row = real(fit)
        images = len(fit.prep.val)
        row["val_acc"] = (images - missed) / images
        return row

    monkeypatch.setattr(lpft, "fit_probe", scored)


def test_a_probe_missing_one_image_ends_even_given_epochs(shapes_dir, tmp_path, monkeypatch):
    """One image wrong: fine-tuning cannot get two more right, so even epochs the user set
    are not run; the message says how many."""
    probe_missing(monkeypatch, 1)
    result = Trainer().fit(config(shapes_dir, epochs=4), tmp_path / "run", [])
    assert len(result.history) == 1 and result.status == "early-stopped"
    assert result.message.startswith(UNBEATABLE)
    assert "3 fine-tuning epochs not run" in result.message


def test_a_probe_missing_two_images_is_fine_tuned(shapes_dir, tmp_path, monkeypatch):
    """Two images wrong: a fine-tuning epoch right on all of them would replace the probe, so
    every epoch runs."""
    probe_missing(monkeypatch, 2)
    rec = Recorder()
    result = Trainer().fit(config(shapes_dir, epochs=3), tmp_path / "run", [rec])
    assert len(result.history) == 3 and result.status == "completed"
    assert not result.message.startswith(UNBEATABLE)
    assert not any(m.text.startswith(UNBEATABLE) for m in rec.of(Message))
    assert "fine_tuning_skipped" not in bundle.read_meta(tmp_path / "run")
