"""The learning-rate schedules, step by step: torch's schedulers give the curve the recipe
describes, per parameter group, for one run and for a run in two phases."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from transfer_gui.core.train.recipe import make_scheduler

PEAKS = (1e-3, 1e-4)  # two groups: the head and an earlier layer at a tenth of its rate


def curve(schedule: str, total: int, phases: list[int] | None = None) -> list[list[float]]:
    """Each group's rate at every optimizer step of a run."""
    optimizer = torch.optim.AdamW([{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr}
                                   for lr in PEAKS])
    scheduler = make_scheduler(optimizer, schedule, total, phases)
    rates = []
    for _ in range(total):
        rates.append([g["lr"] for g in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    return rates


def _cos(start: float, end: float, t: float) -> float:
    return end + (start - end) * 0.5 * (1 + math.cos(math.pi * t))


def _warm_cosine(step: int, length: int, warm: int, low: float) -> float:
    """Linear from `low` to 1 over `warm` steps, then a half cosine to 0."""
    if step < warm:
        return low + (1 - low) * step / warm
    return _cos(1.0, 0.0, (step - warm) / max(length - warm, 1))


def expected(schedule: str, total: int, phases: list[int] | None) -> list[float]:
    """The multiple of each group's peak rate at every step, as the recipe describes it."""
    if schedule == "constant":
        return [1.0] * total
    if phases:  # each phase its own warm-up and cosine
        share, low = (0.25, 1 / 25) if schedule == "onecycle" else (0.05, 0.1)
        return [_warm_cosine(step, length, max(1, round(length * share)), low)
                for length in phases for step in range(length)]
    if schedule == "cosine":
        return [_warm_cosine(step, total, max(1, total // 20), 0.1) for step in range(total)]
    # torch's OneCycleLR: cosine up from 1/25 over a quarter, cosine down to 1/25 of 1e-4
    top = 0.25 * total - 1
    return [_cos(1 / 25, 1.0, step / top) if step <= top else
            _cos(1.0, 1 / 25 / 1e4, (step - top) / (total - 1 - top)) for step in range(total)]


@pytest.mark.parametrize(("schedule", "total", "phases"), [
    ("onecycle", 40, None), ("cosine", 57, None), ("constant", 9, None),
    ("onecycle", 40, [12, 28]), ("cosine", 70, [30, 40]), ("onecycle", 7, [1, 6]),
    ("cosine", 3, [1, 2]), ("constant", 10, [4, 6]),
])
def test_rate_at_every_step_follows_the_recipe(schedule, total, phases):
    for step, (rates, multiple) in enumerate(zip(curve(schedule, total, phases),
                                                 expected(schedule, total, phases),
                                                 strict=True)):
        for rate, peak in zip(rates, PEAKS, strict=True):
            # phases anneal to 0, not to OneCycleLR's 1/250 000 of the peak (see recipe)
            assert math.isclose(rate, multiple * peak, rel_tol=1e-6, abs_tol=5e-6 * peak), \
                (step, rate, multiple * peak)


def test_each_phase_warms_up_to_the_peak_and_anneals_again():
    rates = [r[0] for r in curve("onecycle", 40, [12, 28])]
    peak = PEAKS[0]
    assert rates[0] == pytest.approx(peak / 25) and rates[3] == pytest.approx(peak)
    assert rates[11] < peak / 20  # the head's phase ends low
    assert rates[12] == pytest.approx(peak / 25) and rates[19] == pytest.approx(peak)
    assert all(a > b for a, b in itertools.pairwise(rates[19:]))
    assert rates[-1] < peak / 100


@pytest.mark.parametrize(("schedule", "phases"), [("onecycle", None), ("cosine", None),
                                                  ("onecycle", [12, 28]), ("cosine", [9, 31])])
def test_a_resumed_schedule_continues_the_same_curve(schedule, phases):
    """What a checkpoint keeps (the optimizer's and the scheduler's state dicts), loaded into
    a freshly built schedule as a resumed run does, continues the curve where it stopped."""
    def build():
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=PEAKS[0])
        return optimizer, make_scheduler(optimizer, schedule, 40, phases)

    optimizer, scheduler = build()
    for _ in range(17):  # past the first phase's end
        optimizer.step()
        scheduler.step()
    saved = optimizer.state_dict(), scheduler.state_dict()
    optimizer, scheduler = build()
    optimizer.load_state_dict(saved[0])
    scheduler.load_state_dict(saved[1])
    rates = []
    for _ in range(17, 40):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates == pytest.approx([r[0] for r in curve(schedule, 40, phases)[17:]], rel=1e-9)
