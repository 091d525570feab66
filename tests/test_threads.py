"""A run's CPU threads: the model's threads, the inter-op threads and the loader workers never
ask for more cores than are free, a user's setting wins, and the run says what it chose."""

from __future__ import annotations

import math

import pytest
import torch

from runhelpers import tiny_config
from transfer_gui.core.events import Message, Recorder
from transfer_gui.core.train import threads
from transfer_gui.core.train.loop import Trainer
from transfer_gui.core.train.threads import SPARE, plan_threads

NOBODY: dict[str, str] = {}  # no setting of the user's


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_the_plan_never_oversubscribes_the_free_cores(device) -> None:
    for cores in range(1, 65):
        for busy in (0.0, 0.1, 0.5, 1.0, 1.5, cores / 2, cores - 0.5, float(cores), cores + 3):
            plan = plan_threads(device, None, NOBODY, cores, busy)
            free = max(1, cores - max(0, math.ceil(busy - SPARE)))
            assert plan.intra >= 1 and plan.inter == 1 and plan.workers >= 0
            assert plan.intra + plan.workers <= free, (cores, busy, plan)


def test_a_shared_two_core_machine_gets_one_thread_and_an_idle_one_two() -> None:
    assert plan_threads("cpu", None, NOBODY, 2, 1.0).intra == 1  # another process on a core
    assert plan_threads("cpu", None, NOBODY, 2, 0.1).intra == 2  # (a few % are noise)
    eight = plan_threads("cpu", None, NOBODY, 8, 0.0)
    assert (eight.intra, eight.workers) == (4, 4)
    asked = plan_threads("cpu", 2, NOBODY, 8, 0.0)  # --workers 2: the model gets the rest
    assert (asked.intra, asked.workers) == (6, 2)


def test_the_users_setting_wins_and_is_named() -> None:
    plan = plan_threads("cpu", None, {"TRANSFER_GUI_THREADS": "3"}, 2, 2.0)
    assert plan.intra == 3 and plan.chosen_by == "TRANSFER_GUI_THREADS=3"
    plan = plan_threads("cpu", None, {"OMP_NUM_THREADS": "1",
                                      "TRANSFER_GUI_INTEROP_THREADS": "2"}, 8, 0.0)
    assert (plan.intra, plan.inter) == (1, 2) and "OMP_NUM_THREADS=1" in plan.text()
    assert plan_threads("cpu", None, {"TRANSFER_GUI_THREADS": "zero"}, 4, 0.0).chosen_by == ""


def test_busy_cores_are_measured_without_the_load_average(monkeypatch) -> None:
    ticks = iter([[(100, 1000), (100, 1000)], [(190, 1100), (110, 1100)]])
    monkeypatch.setattr(threads, "_cpu_times", lambda cpus: next(ticks))
    monkeypatch.setattr(threads.time, "sleep", lambda s: None)
    assert threads.busy_cores() == pytest.approx(1.0)  # one core at 90 %, one at 10 %


def test_a_run_says_what_it_chose_and_trains_on_it(shapes_dir, tmp_path, monkeypatch) -> None:
    before = torch.get_num_threads()
    monkeypatch.setenv("TRANSFER_GUI_THREADS", "1")
    seen: list[int] = []
    monkeypatch.setattr(threads, "apply_plan", _recording(seen, threads.apply_plan))
    from transfer_gui.core.train import epochs

    monkeypatch.setattr(epochs, "apply_plan", threads.apply_plan)
    recorder = Recorder()
    try:
        result = Trainer().fit(tiny_config(shapes_dir, epochs=1), tmp_path / "run", [recorder])
    finally:
        torch.set_num_threads(before)
    assert result.status == "completed" and seen == [1]
    said = [m.text for m in recorder.of(Message) if m.text.startswith("CPU threads")]
    assert said == ["CPU threads: 1 for the model, 1 between operations, 0 loader workers "
                    "(as TRANSFER_GUI_THREADS=1 says; set TRANSFER_GUI_THREADS or --workers "
                    "to choose)"]


def _recording(seen: list[int], real):
    def apply(plan):
        real(plan)
        seen.append(torch.get_num_threads())

    return apply
