"""The learning-rate schedules, step by step: torch's schedulers give the curve the recipe
describes, per parameter group, for one run and for a run in two phases."""

from __future__ import annotations

import math

import pytest
import torch

from transfer_gui.core.train.recipe import PhasedSchedule, make_scheduler

PEAKS = (1e-3, 1e-4)  # two groups: the head and an earlier layer at a tenth of its rate


def curve(schedule: str, total: int, phases: list[int] | None = None,
          make=make_scheduler) -> list[list[float]]:
    """Each group's rate at every optimizer step of a run."""
    optimizer = torch.optim.AdamW([{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr}
                                   for lr in PEAKS])
    scheduler = make(optimizer, schedule, total, phases)
    rates = []
    for _ in range(total):
        rates.append([g["lr"] for g in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    return rates


def _old(optimizer, schedule, total, phases):
    if phases and len(phases) > 1:
        return torch.optim.lr_scheduler.LambdaLR(optimizer, PhasedSchedule(phases, schedule))
    return make_scheduler(optimizer, schedule, total)  # unchanged: torch's schedulers already


CONFIGS = [("onecycle", 40, None), ("cosine", 57, None), ("constant", 9, None),
           ("onecycle", 40, [12, 28]), ("cosine", 70, [30, 40]), ("onecycle", 7, [1, 6]),
           ("cosine", 3, [1, 2]), ("constant", 10, [4, 6])]


@pytest.mark.parametrize(("schedule", "total", "phases"), CONFIGS)
def test_same_curve_as_before(schedule, total, phases):
    new, old = curve(schedule, total, phases), curve(schedule, total, phases, _old)
    for step, (a, b) in enumerate(zip(new, old, strict=True)):
        for lr_new, lr_old, peak in zip(a, b, PEAKS, strict=True):
            assert math.isclose(lr_new, lr_old, rel_tol=1e-6, abs_tol=5e-6 * peak), \
                (step, lr_new, lr_old)
