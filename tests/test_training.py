"""Training: it learns, freezing holds bit for bit, cancel is prompt, runs round-trip."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest
import torch

from transfer_gui.core.analysis.predict import Predictor
from transfer_gui.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from transfer_gui.core.events import (
    BatchEnded,
    Callback,
    CancelToken,
    EpochEnded,
    FitEnded,
    FitStarted,
    Recorder,
)
from transfer_gui.core.io import bundle
from transfer_gui.core.models.backbones import get_spec
from transfer_gui.core.models.layers import group_of, layer_groups
from transfer_gui.core.train.loop import Trainer, prepare
from transfer_gui.core.train.recipe import make_optimizer


def config(root, backbone="tiny_cnn", strategy="linear-probe", **train) -> RunConfig:
    train.setdefault("epochs", 3)
    train.setdefault("batch_size", 8)
    return RunConfig(DataConfig(root=str(root)), ModelConfig(backbone=backbone, strategy=strategy),
                     TrainConfig(**train))


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.slow
def test_linear_probe_on_bundled_backbone_learns(shapes_dir, tmp_path):
    rec = Recorder()
    cfg = config(shapes_dir, "efficientnet_lite0", image_size=64, epochs=8)
    result = Trainer().fit(cfg, tmp_path / "run", [rec])
    assert result.status == "completed"
    started = rec.of(FitStarted)[0]
    assert started.feature_cache and started.val_size == 9
    assert result.best_val_acc >= 0.9, result.history  # chance is 1/3
    assert rec.of(FitEnded)[0].status == "completed"
    epochs = rec.of(EpochEnded)
    assert [e.epoch for e in epochs] == list(range(1, 9))
    assert epochs[-1].train_loss < epochs[0].train_loss


def test_fine_tune_freezing_is_bit_exact(shapes_dir, tmp_path):
    cfg = RunConfig(DataConfig(root=str(shapes_dir)),
                    ModelConfig(backbone="tiny_cnn", strategy="fine-tune", unfreeze=1),
                    # the one-stage recipe: its last epoch is the saved one, BatchNorm updates
                    TrainConfig(epochs=2, batch_size=8, augment="light", probe_first=False))
    prep = prepare(cfg)
    groups = layer_groups(get_spec("tiny_cnn"))
    before = snapshot(prep.model)
    trainable = {n for n, p in prep.model.named_parameters() if p.requires_grad}
    assert {group_of(n, groups) for n in trainable} == {"stage2", "head"}
    optimizer = make_optimizer(prep.model, prep.groups, prep.config.train, 0.1)
    in_optimizer = {id(p) for g in optimizer.param_groups for p in g["params"]}
    assert in_optimizer == {id(p) for p in prep.model.parameters() if p.requires_grad}
    lrs = {g["name"]: g["lr"] for g in optimizer.param_groups}
    assert lrs["stage2"] == pytest.approx(0.1 * lrs["head"])

    Trainer().fit(cfg, tmp_path / "run", [])
    after = bundle.load_run(tmp_path / "run").model.state_dict()
    for name, value in before.items():
        group = group_of(name, groups)
        if group in ("stem", "stage1"):  # frozen: weights and BatchNorm statistics
            assert torch.equal(value, after[name]), name
    for name in ("body.stage2.0.weight", "body.stage2.1.running_mean", "head.weight"):
        assert not torch.equal(before[name], after[name]), name


def test_linear_probe_without_cache_keeps_body_identical(shapes_dir, tmp_path):
    cfg = config(shapes_dir, epochs=2, cache_features=False)
    before = snapshot(prepare(cfg).model)
    rec = Recorder()
    Trainer().fit(cfg, tmp_path / "run", [rec])
    assert not rec.of(FitStarted)[0].feature_cache
    after = bundle.load_run(tmp_path / "run").model.state_dict()
    for name, value in before.items():
        if name.startswith("body."):
            assert torch.equal(value, after[name]), name
    assert not torch.equal(before["head.weight"], after["head.weight"])


def test_user_selection_overrides_preset(shapes_dir):
    cfg = RunConfig(DataConfig(root=str(shapes_dir)),
                    ModelConfig(backbone="tiny_cnn", trainable=("stem", "body.stage2.1", "head")),
                    TrainConfig(epochs=1))
    prep = prepare(cfg)
    trainable = sorted(n for n, p in prep.model.named_parameters() if p.requires_grad)
    assert trainable == ["body.stage2.1.bias", "body.stage2.1.weight", "body.stem.0.weight",
                         "body.stem.1.bias", "body.stem.1.weight", "head.bias", "head.weight"]


class CancelAt(Callback):
    def __init__(self, token: CancelToken, step: int) -> None:
        self.token, self.step, self.when = token, step, None

    def on_batch_end(self, event: BatchEnded) -> None:
        if event.step == self.step:
            self.when = time.perf_counter()
            self.token.cancel()


def test_cancel_mid_epoch_is_prompt_and_leaves_a_model(shapes_dir, tmp_path):
    token = CancelToken()
    stopper = CancelAt(token, step=2)
    cfg = config(shapes_dir, strategy="full", epochs=50, augment="light")
    result = Trainer().fit(cfg, tmp_path / "run", [stopper], cancel=token)
    assert result.status == "cancelled"
    assert time.perf_counter() - stopper.when < 2.0
    run = bundle.load_run(tmp_path / "run")
    assert run.meta["status"] == "cancelled"
    assert run.model.num_classes == 3


def test_run_folder_round_trips(shapes_dir, tmp_path):
    cfg = config(shapes_dir, epochs=2)
    result = Trainer().fit(cfg, tmp_path / "run", [])
    run = bundle.load_run(tmp_path / "run")
    assert run.classes == ["circle", "square", "triangle"]
    assert run.meta["config"]["model"]["backbone"] == "tiny_cnn"
    assert len(run.history) == 2 and run.history == result.history
    recorded = RunConfig.from_dict(run.meta["config"])
    assert recorded.train.balance == "none"  # auto, decided on these balanced classes
    resolved = cfg.resolved()
    assert recorded == replace(resolved, train=replace(resolved.train, balance="none"))
    train, val = bundle.load_split(tmp_path / "run")
    assert len(train) + len(val) == 48 and len(val) == 9
    # the reloaded model predicts exactly like a predictor built from the folder
    paths = [s.path for s in val]
    a = Predictor.from_run(tmp_path / "run", "cpu").predict_paths(paths)
    b = Predictor(run.model, run.classes, run.preprocess, run.spec, "cpu").predict_paths(paths)
    assert [p.top_k for p in a] == [p.top_k for p in b]


def test_seeded_cpu_runs_are_deterministic(shapes_dir, tmp_path):
    cfg = config(shapes_dir, strategy="full", epochs=2, augment="standard", seed=3)
    one = Trainer().fit(cfg, tmp_path / "a", [])
    two = Trainer().fit(cfg, tmp_path / "b", [])
    assert one.history[-1]["train_loss"] == two.history[-1]["train_loss"]
    assert one.history[-1]["val_loss"] == two.history[-1]["val_loss"]


def test_every_batch_and_epoch_reported(shapes_dir, tmp_path):
    rec = Recorder()
    Trainer().fit(config(shapes_dir, epochs=2, batch_size=8), tmp_path / "run", [rec])
    batches = rec.of(BatchEnded)
    assert len(batches) == 2 * 5  # 39 training images in batches of 8 (a last 7)
    assert [b.step for b in batches] == list(range(1, 11))
    assert all(np.isfinite(b.loss) and b.lr > 0 for b in batches)


def test_existing_run_folder_is_not_overwritten(shapes_dir, tmp_path):
    Trainer().fit(config(shapes_dir, epochs=1), tmp_path / "run", [])
    with pytest.raises(bundle.RunError, match="already holds a run"):
        Trainer().fit(config(shapes_dir, epochs=1), tmp_path / "run", [])
