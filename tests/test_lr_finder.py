"""The learning-rate finder: each step sends its point, a stopped sweep keeps what it has, and
the default sweep's suggestion trains."""

from __future__ import annotations

import pytest

from transfer_gui.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from transfer_gui.core.events import Callback, CancelToken, Progress, SweepProgress
from transfer_gui.core.train.loop import Trainer
from transfer_gui.core.train.lrfind.curve import MIN_POINTS, SWEEP_STEPS, smooth_losses, suggest
from transfer_gui.core.train.lrfind.sweep import lr_find


def tiny_fine_tune(root) -> RunConfig:
    return RunConfig(DataConfig(root=str(root)),
                     ModelConfig(backbone="tiny_cnn", strategy="fine-tune"),
                     TrainConfig(image_size=32, batch_size=8, probe_first=False))


class StopAfter(Callback):
    """Stops the sweep once `k` points have arrived, keeping every point it was sent."""

    def __init__(self, token: CancelToken, k: int) -> None:
        self.token, self.k = token, k
        self.points: list[tuple[float, float]] = []

    def on_progress(self, event: Progress) -> None:
        if isinstance(event, SweepProgress):
            self.points.append((event.lr, event.loss))
            if len(self.points) == self.k:
                self.token.cancel()


def test_a_stopped_sweep_returns_its_points_and_a_suggestion(shapes_dir):
    token = CancelToken()
    watcher = StopAfter(token, 15)
    result = lr_find(tiny_fine_tune(shapes_dir), [watcher], token, start=1e-3, end=10.0,
                     steps=30)
    assert result.stopped and result.steps == 15
    assert len(result.lrs) == len(result.losses) == len(result.smoothed) == 15
    assert list(zip(result.lrs, result.losses, strict=True)) == watcher.points  # sent live
    assert result.suggestion is not None, result.reason
    assert result.lrs[0] <= result.suggestion <= result.lrs[-1]
    assert "so far" in result.reason


def test_a_sweep_stopped_after_a_few_steps_says_they_are_too_few(shapes_dir):
    token = CancelToken()
    result = lr_find(tiny_fine_tune(shapes_dir), [StopAfter(token, 4)], token, steps=30)
    assert result.stopped and result.steps == 4 and result.suggestion is None
    assert "too few points" in result.reason and str(MIN_POINTS) in result.reason


def test_a_partial_sweep_whose_loss_has_not_fallen_suggests_nothing():
    lrs = [10 ** (-5 + i * 0.125) for i in range(20)]
    flat = [2.3 + 0.01 * (i % 3) for i in range(20)]
    assert suggest(lrs, flat, complete=False)[0] is None
    falling = flat[:10] + [2.3 - 0.1 * i for i in range(10)]
    lr, reason = suggest(lrs, falling, complete=False)
    assert lr is not None and lrs[9] <= lr <= lrs[-1] and "so far" in reason


def test_the_smoothing_is_centred():
    """A step in the loss stays where it is (an exponential average would move it right)."""
    values = smooth_losses([2.0] * 20 + [1.0] * 20)
    assert values[0] == 2.0 and values[-1] == 1.0
    assert values[19] < 2.0 and values[20] > 1.0  # the window spans the step on both sides
    assert values[19] + values[20] == pytest.approx(3.0)


def test_the_default_sweep_suggests_a_rate_that_trains(shapes_dir, tmp_path):
    data = DataConfig(root=str(shapes_dir))
    model = ModelConfig(backbone="efficientnet_lite0", strategy="linear-probe")
    result = lr_find(RunConfig(data, model, TrainConfig(image_size=64)))
    assert not result.stopped and MIN_POINTS <= result.steps <= SWEEP_STEPS
    assert result.suggestion is not None, result.reason
    assert 1e-4 < result.suggestion < 1.0
    tuned = RunConfig(data, model, TrainConfig(image_size=64, epochs=10, lr=result.suggestion))
    assert Trainer().fit(tuned, tmp_path / "run", []).best_val_acc >= 0.9


def test_the_command_line_prints_a_stopped_sweep(shapes_dir, monkeypatch, capsys):
    """Ctrl-C during `lr-find` keeps the steps so far: printed, with their suggestion, and the
    exit status says it was stopped."""
    from transfer_gui.cli import console, main, options

    token = CancelToken()
    monkeypatch.setattr(options, "interruptible", lambda: token)
    watcher = StopAfter(token, 12)
    original = console.ConsoleReporter.on_progress

    def counting(self, event):
        watcher.on_progress(event)
        original(self, event)

    monkeypatch.setattr(console.ConsoleReporter, "on_progress", counting)
    code = main(["lr-find", str(shapes_dir), "--backbone", "tiny_cnn", "--strategy",
                 "fine-tune", "--image-size", "32", "--batch-size", "8", "--start", "1e-3",
                 "--end", "10", "--steps", "30"])
    out = capsys.readouterr().out
    assert code == 130 and "stopped after 12 steps" in out
    assert "suggested learning rate" in out, out
