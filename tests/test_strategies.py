"""Every strategy, compared on the same data: classic heads, two-stage fine-tuning, the LR
finder and the comparison of runs."""

from __future__ import annotations

import json
import os

import pytest
import torch

from runhelpers import StopAfter
from transfer_gui.cli import main
from transfer_gui.core.analysis.compare import compare_strategies, run_summary
from transfer_gui.core.analysis.evaluation import evaluate_run
from transfer_gui.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from transfer_gui.core.events import Callback, EpochEnded, Message, Recorder
from transfer_gui.core.io import bundle
from transfer_gui.core.io.export import export_run
from transfer_gui.core.models.heads import KNNHead
from transfer_gui.core.train.loop import Trainer, prepare
from transfer_gui.core.train.lrfind.sweep import lr_find, suggest


def config(root, strategy="linear-probe", backbone="efficientnet_lite0", unfreeze=2,
           **train) -> RunConfig:
    train.setdefault("image_size", 64)
    return RunConfig(DataConfig(root=str(root)),
                     ModelConfig(backbone=backbone, strategy=strategy, unfreeze=unfreeze),
                     TrainConfig(**train))


@pytest.mark.parametrize("kind", ["logistic", "knn"])
def test_classic_heads_learn_and_behave_like_any_run(kind, shapes_dir, tmp_path):
    rec = Recorder()
    result = Trainer().fit(config(shapes_dir, kind), tmp_path / "run", [rec])
    assert result.status == "completed" and result.best_val_acc >= 0.9
    assert len(rec.of(EpochEnded)) == 1
    assert any(kind in m.text and "chose" in m.text for m in rec.of(Message))
    run = bundle.load_run(tmp_path / "run")
    assert isinstance(run.model.head, KNNHead) == (kind == "knn")
    assert run.meta["params"]["trainable"] == 0  # no gradient reached the backbone
    assert evaluate_run(run).result.accuracy == pytest.approx(result.best_val_acc)
    assert export_run(run, tmp_path / "model.pt", "torchscript").max_diff < 1e-4


def test_knn_votes_are_probabilities_and_differentiable():
    head = KNNHead(4, 3, 2, k=3)
    head.bank.copy_(torch.nn.functional.normalize(torch.eye(4, 3) + 0.1, dim=1))
    head.labels.copy_(torch.tensor([0, 0, 1, 1]))
    x = torch.randn(5, 3, requires_grad=True)
    probs = head(x).softmax(1)
    assert torch.allclose(probs.sum(1), torch.ones(5), atol=1e-5)
    probs[:, 0].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


class BodySnapshots(Callback):
    """The body's weights at the end of each epoch (`model()` gives the model being trained)."""

    def __init__(self, model) -> None:
        self.model, self.states = model, []

    def on_epoch_end(self, event: EpochEnded) -> None:
        body = self.model().body.state_dict()
        self.states.append({k: v.detach().clone() for k, v in body.items()})


def test_two_stage_fine_tuning_trains_the_head_first(shapes_dir, tmp_path, monkeypatch):
    """The older recipe (the default now starts from a converged probe: see test_lpft)."""
    cfg = config(shapes_dir, "fine-tune", "tiny_cnn", epochs=4, head_epochs=2, batch_size=8,
                 augment="light", probe_first=False)
    assert cfg.resolved().train.head_epochs == 2
    old = config(shapes_dir, "fine-tune", probe_first=False).resolved().train
    assert old.head_epochs == 2  # the old recipe's default
    from transfer_gui.core.train import loop as training

    built = {}
    real = training.prepare

    def keep(*args, **kwargs):
        built["prep"] = real(*args, **kwargs)
        return built["prep"]

    monkeypatch.setattr(training, "prepare", keep)
    before = {k: v.clone() for k, v in prepare(cfg).model.body.state_dict().items()}
    rec = Recorder()
    snapshots = BodySnapshots(lambda: built["prep"].model)
    Trainer().fit(cfg, tmp_path / "run", [rec, snapshots])
    texts = [m.text for m in rec.of(Message)]
    assert any(t.startswith("stage 1") for t in texts)
    assert any(t.startswith("stage 2") for t in texts)
    for state in snapshots.states[:2]:  # stage 1: the body, BatchNorm included, untouched
        assert all(torch.equal(state[k], v) for k, v in before.items())
    last = snapshots.states[-1]
    assert not torch.equal(last["stage2.0.weight"], before["stage2.0.weight"])
    assert torch.equal(last["stem.0.weight"], before["stem.0.weight"])  # never unfrozen
    history = bundle.read_meta(tmp_path / "run")["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]  # one run, one set of curves


@pytest.mark.parametrize("probe_first", [False, True])
def test_two_stage_run_resumes_exactly(shapes_dir, tmp_path, probe_first):
    from transfer_gui.core.events import CancelToken

    cfg = config(shapes_dir, "fine-tune", "tiny_cnn", epochs=4, head_epochs=2, batch_size=8,
                 probe_first=probe_first)
    whole = Trainer().fit(cfg, tmp_path / "whole", [])
    token = CancelToken()
    Trainer().fit(cfg, tmp_path / "part", [StopAfter(token, 3)], token)
    resumed = Trainer().fit(None, tmp_path / "part", [], resume=True)
    assert resumed.status == "completed"
    for a, b in zip(whole.history, resumed.history, strict=True):
        assert a["val_loss"] == pytest.approx(b["val_loss"], abs=1e-4)


def test_lr_finder_suggestion_trains_well(shapes_dir, tmp_path):
    cfg = config(shapes_dir, "linear-probe", epochs=10)  # the strategy's default epochs
    result = lr_find(cfg, steps=60)
    assert len(result.lrs) >= 30 and result.suggestion is not None
    assert result.lrs[0] < result.suggestion < result.lrs[-1]
    assert min(result.smoothed) < result.smoothed[0]  # the loss did fall
    tuned = RunConfig(cfg.data, cfg.model, TrainConfig(image_size=64, epochs=10,
                                                       lr=result.suggestion))
    trained = Trainer().fit(tuned, tmp_path / "run", [])
    assert trained.best_val_acc >= 0.9


def test_lr_suggestion_is_within_the_descent():
    lrs = [10 ** (-6 + i * 0.1) for i in range(50)]
    losses = [2.0] * 15 + [2.0 - 0.1 * i for i in range(15)] + [0.6] * 10 + [5.0] * 10
    lr, reason = suggest(lrs, losses)
    assert lrs[20] <= lr <= lrs[29] and "descent" in reason


def test_compare_runs_every_strategy_on_identical_files(shapes_dir, tmp_path):
    strategies = ["linear-probe", "logistic", "knn", "fine-tune", "scratch"]
    cfg = config(shapes_dir, backbone="tiny_cnn", epochs=2, batch_size=8)
    rows = compare_strategies(cfg, strategies, tmp_path)
    assert [r["strategy"] for r in rows] == strategies
    splits = [json.loads((tmp_path / s / "split.json").read_text()) for s in strategies]
    assert all(s["train"] == splits[0]["train"] and s["val"] == splits[0]["val"]
               for s in splits)
    for row in rows:
        assert row["status"] == "completed"
        for key in ("accuracy", "macro_f1", "min_f1", "seconds", "trainable_params",
                    "best_val_acc"):
            assert row[key] is not None, (row["strategy"], key)
        # scored on the validation split with the kept model: the run's best validation score
        assert row["accuracy"] == pytest.approx(row["best_val_acc"]), row["strategy"]
    assert rows[3]["epochs"] == rows[4]["epochs"] == 2  # same budget...
    assert rows[0]["epochs"] == rows[3]["probe_epochs"] == 10  # ...and the same probe budget
    again = run_summary(tmp_path / "knn")
    assert again["accuracy"] == rows[2]["accuracy"]  # read back from evaluation.json
    assert (tmp_path / "knn" / "evaluation.json").is_file()


def test_cached_evaluation_is_redone_when_the_weights_are_newer(shapes_dir, tmp_path):
    run = tmp_path / "run"
    Trainer().fit(config(shapes_dir, backbone="tiny_cnn", epochs=1, batch_size=8), run)
    real = run_summary(run)["accuracy"]
    cached = run / "evaluation.json"
    cached.write_text(json.dumps({**json.loads(cached.read_text()), "accuracy": -1.0}))
    assert run_summary(run)["accuracy"] == -1.0  # the cache is used while it is current
    weights = (run / "model.safetensors").stat().st_mtime
    os.utime(cached, (weights - 60, weights - 60))  # as if the run was resumed afterwards
    assert run_summary(run)["accuracy"] == real


def test_cli_lr_find_and_compare(shapes_dir, tmp_path, capsys):
    assert main(["lr-find", str(shapes_dir), "--image-size", "64", "--steps", "40",
                 "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["suggestion"] > 0 and len(found["lrs"]) == len(found["losses"])
    assert main(["compare", str(shapes_dir), "--out", str(tmp_path), "--backbone", "tiny_cnn",
                 "--strategies", "linear-probe,knn", "--epochs", "2", "--image-size",
                 "32"]) == 0
    out = capsys.readouterr().out
    assert "linear-probe" in out and "knn" in out and "macro F1" in out
    assert main(["compare", "--runs", str(tmp_path / "knn"), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["strategy"] == "knn" and "history" not in rows[0]


def test_lr_finder_steps_use_the_rates_it_reports(shapes_dir, monkeypatch):
    """Each step of the range test trains at the rate it reports for that step, and the
    earlier layers of a fine-tune keep their ratio to the head."""
    seen: list[list[float]] = []
    original = torch.optim.AdamW.step

    def spying(self, *args, **kwargs):
        seen.append([group["lr"] for group in self.param_groups])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", spying)
    result = lr_find(config(shapes_dir, "fine-tune", backbone="tiny_cnn", probe_first=False),
                     start=1e-5, end=1e-1, steps=12)
    assert len(seen) == len(result.lrs) >= 10
    for rates, lr in zip(seen, result.lrs, strict=True):
        assert rates[-1] == pytest.approx(lr, rel=1e-6)  # the head's group
        assert rates[0] < rates[-1]  # an earlier group: a smaller share of it
    assert result.lrs[1] / result.lrs[0] == pytest.approx((1e-1 / 1e-5) ** (1 / 11))
