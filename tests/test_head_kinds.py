"""A head's kind owns its loss and its metrics (`core.models.kinds`): single-label,
multi-label, several tasks. The stepper asks the kind and never which one it has."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from transfer_gui.core.models.heads import MultiHead
from transfer_gui.core.models.kinds import MultiLabel, SeveralTasks, SingleLabel, kind_of


def _model(head: nn.Module) -> nn.Module:
    model = nn.Module()
    model.head = head
    return model


def test_the_kind_follows_the_head():
    assert isinstance(kind_of(_model(nn.Linear(4, 3))), SingleLabel)
    one = kind_of(_model(MultiHead(4, ["tags"], [3], [True], [2.0])))
    assert isinstance(one, MultiLabel) and one.tasks == ("tags",) and one.weight == 2.0
    several = kind_of(_model(MultiHead(4, ["ink", "tags"], [2, 3], [False, True])))
    assert isinstance(several, SeveralTasks) and several.tasks == ("ink", "tags")
    # a single single-label task in a MultiHead is scored as a task of its own
    assert isinstance(kind_of(_model(MultiHead(4, ["ink"], [2], [False]))), SeveralTasks)


def test_single_label_is_cross_entropy_and_the_top_class():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 3.0], [1.0, 2.0, 0.0]])
    y = torch.tensor([0, 1, 1])
    weights = torch.tensor([1.0, 2.0, 0.5])
    kind = SingleLabel()
    assert kind.loss(logits, y, 0.1, "sum", weights) == pytest.approx(
        float(F.cross_entropy(logits, y, weights, label_smoothing=0.1, reduction="sum")))
    assert float(kind.correct(logits, y)) == 2.0
    assert kind.tasks == () and kind.task_hits(logits, y).numel() == 0


def test_multi_label_is_binary_cross_entropy_and_every_label_right():
    logits = torch.tensor([[2.0, -1.0, 3.0], [1.0, 1.0, -2.0]])
    y = torch.tensor([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    kind = MultiLabel("tags", weight=3.0)
    expected = 3.0 * F.binary_cross_entropy_with_logits(logits, y)
    assert float(kind.loss(logits, y)) == pytest.approx(float(expected))
    assert float(kind.correct(logits, y)) == 1.0  # the second image gets one label wrong
    assert kind.task_hits(logits, y).tolist() == [1.0]


def test_several_tasks_weigh_each_task_and_score_each_apart():
    head = MultiHead(4, ["ink", "tags"], [2, 2], [False, True], [1.0, 0.5])
    kind = SeveralTasks(head)
    # output: ink's two logits, then tags' two; targets: ink's class, then tags' two 0/1
    logits = torch.tensor([[3.0, 0.0, 2.0, -2.0], [0.0, 3.0, 2.0, 2.0]])
    y = torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    ink = F.cross_entropy(logits[:, :2], y[:, 0].long(), reduction="none")
    tags = F.binary_cross_entropy_with_logits(logits[:, 2:], y[:, 1:], reduction="none")
    expected = (ink + 0.5 * tags.mean(dim=1)).mean()
    assert float(kind.loss(logits, y)) == pytest.approx(float(expected))
    # image 1: ink right, tags right; image 2: ink wrong, tags wrong (second label)
    assert kind.task_hits(logits, y).tolist() == [1.0, 1.0]
    assert float(kind.correct(logits, y)) == 1.0
