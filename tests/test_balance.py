"""Unbalanced classes: the class-weighted loss weights, the balanced sampler draws the classes
equally and reproducibly, "auto" is the benchmark's choice and the run records it, and on an
unbalanced set balancing finds the small class that plain training never predicts."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from imagegen import make_dataset
from runhelpers import tiny_config
from transfer_gui.core.analysis.evaluation import evaluate_run
from transfer_gui.core.config import BALANCE_AUTO, BALANCE_RATIO
from transfer_gui.core.data.balance import class_weights, resolve_balance
from transfer_gui.core.data.batches import FeatureBatches, epoch_order
from transfer_gui.core.train.loop import fit
from transfer_gui.core.train.steps import Optim, Stepper


def test_class_weights_are_inverse_frequency():
    assert class_weights([8, 2]).tolist() == pytest.approx([0.625, 2.5])  # 10 / (2 * n_c)
    assert class_weights([5, 5, 5]).tolist() == [1.0, 1.0, 1.0]
    assert class_weights([6, 0, 2]).tolist() == pytest.approx([8 / 12, 0.0, 8 / 4])


def test_the_weighted_loss_is_the_hand_computed_weighted_mean():
    """One SGD step of lr 1 moves the weights by minus the gradient of the loss: it must be the
    gradient of sum_i w[y_i] * nll_i / sum_i w[y_i], computed here by hand."""
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    x, y = torch.randn(6, 4), torch.tensor([0, 0, 0, 0, 1, 2])
    weights = class_weights([4, 1, 1])
    reference = nn.Linear(4, 3)
    reference.load_state_dict(model.state_dict())
    logp = torch.log(torch.exp(reference(x)) / torch.exp(reference(x)).sum(1, keepdim=True))
    w = weights[y]
    by_hand = -(w * logp[torch.arange(6), y]).sum() / w.sum()
    by_hand.backward()
    unweighted = F.cross_entropy(model(x), y)
    assert not torch.isclose(by_hand, unweighted)  # the weights change this loss
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    stepper = Stepper(model, lambda m, v: m(v), Optim(optimizer, scheduler),
                      torch.device("cpu"), weights=weights)
    before = model.weight.detach().clone()
    stats = stepper.train(x, y)
    assert torch.allclose(before - model.weight.detach(), reference.weight.grad, atol=1e-6)
    # the loss reported is the plain one, comparable with the validation loss
    with torch.no_grad():
        plain = F.cross_entropy(reference(x), y) * len(y)
    assert float(stats[0]) == pytest.approx(float(plain), rel=1e-5)


def test_the_balanced_sampler_draws_classes_equally_and_reproducibly():
    labels = [0] * 90 + [1] * 9 + [2]
    draws = [epoch_order(len(labels), 16, seed=3, epoch=e, balance=labels) for e in range(4)]
    for batches in draws:
        indices = [i for b in batches for i in b]
        assert len(indices) == len(labels)  # the same epoch length
        counts = Counter(labels[i] for i in indices)
        assert all(20 <= counts[c] <= 47 for c in (0, 1, 2)), counts  # about 33 each
    assert draws[0] == epoch_order(len(labels), 16, seed=3, epoch=0, balance=labels)
    assert draws[0] != draws[1]  # each epoch its own draw
    assert draws[0] != epoch_order(len(labels), 16, seed=4, epoch=0, balance=labels)
    # the source of a linear probe on cached features draws its batches the same way
    x, y = torch.randn(len(labels), 5), torch.tensor(labels)
    source = FeatureBatches((x, y), (x[:2], y[:2]), 16, 3, torch.device("cpu"), balanced=True)
    drawn = torch.cat([b.y for b in source.train_epoch(0)]).tolist()
    assert drawn == [labels[i] for b in draws[0] for i in b]
    plain = FeatureBatches((x, y), (x[:2], y[:2]), 16, 3, torch.device("cpu"))
    assert Counter(torch.cat([b.y for b in plain.train_epoch(0)]).tolist())[2] == 1


def test_auto_is_the_benchmarks_choice_on_unbalanced_classes_only():
    assert BALANCE_AUTO in ("weighted", "sampler")
    assert resolve_balance(None, [40, 40, 2]) == BALANCE_AUTO
    assert resolve_balance(None, [3 * BALANCE_RATIO, 3]) == BALANCE_AUTO
    assert resolve_balance(None, [10, 9, 8]) == "none"
    assert resolve_balance("weighted", [10, 10]) == "weighted"


@pytest.fixture(scope="module")
def unbalanced(tmp_path_factory):
    """Circles and squares (24 each) against 3 triangles; a balanced test folder of 8 each."""
    root = tmp_path_factory.mktemp("unbalanced")
    for i, (shape, n) in enumerate((("circle", 24), ("square", 24), ("triangle", 3))):
        make_dataset(root / "fit", (shape,), n, size=32, seed=10 + i)
        make_dataset(root / "test", (shape,), 8, size=32, seed=15 + i)
    return root


def _worst_recall(unbalanced, tmp_path, balance: str | None) -> tuple[float, str]:
    run = tmp_path / f"run_{balance}"
    config = tiny_config(unbalanced / "fit", balance=balance, epochs=8, lr=0.5)
    fit(config, run)
    recorded = json.loads((run / "run.json").read_text())["config"]["train"]["balance"]
    result = evaluate_run(run, str(unbalanced / "test")).result
    return min(c["recall"] for c in result.per_class()), recorded


def test_balancing_finds_the_small_class_and_the_run_records_the_choice(unbalanced, tmp_path):
    """A linear probe on the tiny network never predicts the class of 3 images (its test
    recall is 0); balanced ("auto" here: 24 vs 2 training images) it does, and so does the
    class-weighted loss."""
    plain, recorded = _worst_recall(unbalanced, tmp_path, "none")
    assert (plain, recorded) == (0.0, "none")
    auto, recorded = _worst_recall(unbalanced, tmp_path, None)
    assert recorded == BALANCE_AUTO
    assert auto >= 0.6  # 0.88 (weighted), measured; 0.75 with the sampler
    weighted, recorded = _worst_recall(unbalanced, tmp_path, "weighted")
    assert recorded == "weighted" and weighted >= 0.6  # 0.88, measured


def test_the_unbalanced_folder_warning_names_the_option(unbalanced):
    from transfer_gui.core.data.scan import scan_folder

    reasons = [p.reason for p in scan_folder(unbalanced / "fit", verify=False).problems]
    warning = next(r for r in reasons if "imbalanced" in r)
    assert "24 vs 3" in warning and "--balance" in warning and "Unbalanced classes" in warning


def test_a_run_from_before_the_option_resumes_unbalanced(tmp_path):
    """"auto" must not switch a resumed old run to balancing half-way: its record has no
    choice, which means none."""
    from transfer_gui.core.train.prepare import resume_config

    config = tiny_config(tmp_path).to_dict()
    del config["train"]["balance"]
    meta = {"backbone": "tiny_cnn", "classes": ["a", "b"], "preprocess": {}, "config": config}
    (tmp_path / "run.json").write_text(json.dumps(meta))
    assert resume_config(tmp_path).train.balance == "none"
    config["train"]["balance"] = "sampler"
    (tmp_path / "run.json").write_text(json.dumps(meta))
    assert resume_config(tmp_path).train.balance == "sampler"


def test_the_command_line_takes_the_option():
    from transfer_gui.cli import build_parser, train_config

    parser = build_parser()
    chosen = {word: train_config(parser.parse_args(["train", "d", "--out", "o", "--balance",
                                                    word])).train.balance
              for word in ("auto", "none", "weighted", "sampler")}
    assert chosen == {"auto": None, "none": "none", "weighted": "weighted", "sampler": "sampler"}
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "d", "--balance", "oversample"])


@pytest.mark.parametrize("balance", ["sampler", "weighted"])
def test_fine_tuning_on_images_balances_too(unbalanced, tmp_path, monkeypatch, balance):
    """Fine-tuning trains on image batches, not cached features: its epochs draw balanced
    (sampler), or its steps weight the loss (weighted)."""
    from transfer_gui.core.data import batches
    from transfer_gui.core.train import epochs

    orders, weights = [], []
    order = batches.epoch_order

    def spy(n, batch_size, seed, epoch, balance=None):
        orders.append(balance)
        return order(n, batch_size, seed, epoch, balance)

    monkeypatch.setattr(batches, "epoch_order", spy)
    loss_weights = epochs.loss_weights
    monkeypatch.setattr(epochs, "loss_weights",
                        lambda fit: weights.append(loss_weights(fit)) or weights[-1])
    config = tiny_config(unbalanced / "fit", "fine-tune", balance=balance, epochs=1,
                         probe_first=False, head_epochs=0)
    assert fit(config, tmp_path / "run").status == "completed"
    drawn = [o for o in orders if o]
    if balance == "sampler":
        assert drawn and weights == [None]
        assert Counter(drawn[-1]) == {0: 19, 1: 19, 2: 2}  # every training label, to balance
    else:
        assert not drawn
        assert weights[0].tolist() == pytest.approx(class_weights([19, 19, 2]).tolist())


def test_balanced_accuracy_is_the_mean_recall_of_the_classes_present():
    import numpy as np

    from transfer_gui.core.analysis.metrics import EvalResult

    result = EvalResult(["a", "b", "c"], np.array([[8, 2, 0], [1, 1, 0], [0, 0, 0]]))
    assert result.accuracy == pytest.approx(9 / 12)
    assert result.balanced_accuracy == pytest.approx((0.8 + 0.5) / 2)  # c has no images
    assert result.to_dict()["balanced_accuracy"] == pytest.approx(0.65)
