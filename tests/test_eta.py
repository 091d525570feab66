"""The time left of a run, priced from the current stage's steps and the validation time."""

from __future__ import annotations

import pytest

from transfer_gui.core import BatchEnded, EpochEnded, FitStarted, TimeLeft

STEPS, EPOCHS, VAL_SECONDS = 10, 3, 3.0


def _start(epochs: int = EPOCHS) -> FitStarted:
    return FitStarted(epochs=epochs, steps_per_epoch=STEPS, train_size=160, val_size=40,
                      device="cpu", trainable_params=10, total_params=10)


def _step(epoch: int, batch: int) -> BatchEnded:
    return BatchEnded(epoch, batch, STEPS, (epoch - 1) * STEPS + batch, 0.5, 1e-3, 10.0)


def _epoch_end(epoch: int, epochs: int = EPOCHS) -> EpochEnded:
    return EpochEnded(epoch, epochs, 0.5, 0.5, 0.5, 0.5, 1e-3, 10.0, 1.0, False)


def _events_of_a_two_speed_run() -> list[tuple[object, float]]:
    """A probe-like first epoch of 1 s steps, a timed validation, then fine-tuning steps of
    10 s: the events with the times they were seen."""
    t = 0.0
    seen: list[tuple[object, float]] = [(_start(), t)]
    for batch in range(1, STEPS + 1):
        t += 1.0
        seen.append((_step(1, batch), t))
    t += VAL_SECONDS
    seen.append((_epoch_end(1), t))
    for batch in (1, 2):
        t += 10.0
        seen.append((_step(2, batch), t))
    return seen


def test_the_estimate_uses_the_current_stages_step_time_and_the_validation_time():
    clock = TimeLeft()
    for event, t in _events_of_a_two_speed_run():
        clock.see(event, t)
    # 8 steps of epoch 2 and 10 of epoch 3 at 10 s, two validations of 3 s
    assert clock.remaining() == pytest.approx(18 * 10.0 + 2 * VAL_SECONDS)
    # the run's average since it began (what the page used) said under a minute
    elapsed, done = 10 + VAL_SECONDS + 20, 12
    assert (EPOCHS * STEPS - done) / (done / elapsed) < 60


def test_the_estimate_falls_as_steps_pass_and_ends_at_zero():
    clock = TimeLeft()
    for event, t in _events_of_a_two_speed_run():
        clock.see(event, t)
    t = STEPS * 1.0 + VAL_SECONDS + 2 * 10.0  # when epoch 2 step 2 was seen
    for batch in range(3, STEPS + 1):
        t += 10.0
        clock.see(_step(2, batch), t)
    assert clock.remaining() == pytest.approx(10 * 10.0 + 2 * VAL_SECONDS)
    clock.see(_epoch_end(2), t + VAL_SECONDS)
    assert clock.remaining() == pytest.approx(10 * 10.0 + VAL_SECONDS)  # the last epoch's
    clock.see(_epoch_end(3), t + 200)
    assert clock.remaining() == 0.0


def test_an_epoch_without_steps_is_no_guide_to_the_next():
    """The probe of a probe-first run sends no steps: it is one quick epoch. The fine-tuning
    epoch after it is priced from its own steps alone."""
    clock = TimeLeft()
    clock.see(_start(), 0.0)
    clock.see(_epoch_end(1), 2.0)  # the probe: 2 s
    assert clock.remaining() is None  # nothing timed yet
    clock.see(_step(2, 1), 12.0)
    clock.see(_step(2, 2), 22.0)
    # 18 steps of 10 s; validation not timed yet: guessed from the step time as a forward
    # pass over 40 validation images against 160 training images (a third of a step each)
    guess = 10.0 * STEPS * (40 / 160) / 3
    assert clock.remaining() == pytest.approx(18 * 10.0 + 2 * guess)


def test_a_resumed_run_counts_from_its_first_new_epoch():
    clock = TimeLeft()
    start = FitStarted(epochs=4, steps_per_epoch=STEPS, train_size=160, val_size=0,
                       device="cpu", trainable_params=10, total_params=10, start_epoch=2)
    clock.see(start, 100.0)
    clock.see(_step(3, 5), 125.0)
    assert clock.remaining() == pytest.approx((5 + 10) * 5.0)


@pytest.mark.gui
def test_the_train_page_says_the_time_left_of_the_current_stage(window, monkeypatch):
    """The events reach the page in batches; the page times them as they arrive."""
    from transfer_gui.ui.pages import train_page

    page = window.train_page
    page.run_dir = ""
    now = [0.0]
    monkeypatch.setattr(train_page.time, "monotonic", lambda: now[0])
    for event, t in _events_of_a_two_speed_run():
        if isinstance(event, FitStarted):
            page.plots.replay = lambda *_: None  # nothing on disk to replay
        now[0] = t
        page._on_events([event])
    assert "about 3\u00a0min 06\u00a0s left" in page.status.text()


def test_an_epochs_last_step_reaches_the_window_before_its_validation():
    """Steps are sent in batches (at most every FLUSH_SECONDS); the last of an epoch is sent
    at once, so that the validation after it is not timed as a step."""
    from transfer_gui.ui.worker import Bridge

    sent: list[list] = []
    bridge = Bridge(sent.append)
    bridge._add(_step(1, 1))  # the first: sent (nothing sent for a while)
    bridge._add(_step(1, 2))  # held for the next batch
    assert [len(b) for b in sent] == [1]
    bridge._add(_step(1, STEPS - 1))
    bridge._add(_step(1, STEPS))  # the epoch's last: sent now, with those held
    assert [[e.batch for e in b] for b in sent] == [[1], [2, STEPS - 1, STEPS]]


def test_the_time_shown_is_smoothed_and_says_when_it_is_unsure():
    """Load on a shared machine halves, then doubles the speed for a few seconds: the
    estimate swings (2x), the time shown moves far less and says it is unsure meanwhile;
    with a steady speed it counts down with the clock and is sure."""
    from transfer_gui.core import SmoothedLeft

    shown = SmoothedLeft()
    now, left = 0.0, 600.0
    for _ in range(30):  # steady: 10 s of estimates that agree with the clock
        now += 0.5
        left -= 0.5
        value = shown.update(left, now)
    assert abs(value - left) < 1 and not shown.unsure
    swings = []
    for fresh in (left * 2.2,) * 6 + (left * 0.4,) * 6:  # 6 s slow, then 6 s fast
        now += 1.0
        swings.append(shown.update(fresh, now))
    assert max(swings) < left * 1.3 and min(swings) > left * 0.7  # raw: 2.2x and 0.4x
    assert shown.unsure
    for _ in range(120):  # steady again: it settles and is sure
        now += 1.0
        left -= 1.0
        value = shown.update(left, now)
    assert abs(value - left) < 0.05 * left and not shown.unsure
