"""Stop is prompt in the middle of a slow batch: validation, feature extraction, evaluation and
a training step (forward and backward), measured from `cancel()` to the call returning."""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest
import torch
from torch import nn

import tinynet
from transfer_gui.core import interrupt
from transfer_gui.core.analysis.evaluation import evaluate_run
from transfer_gui.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig, TransferConfig
from transfer_gui.core.events import Callback, Cancelled, CancelToken, FitEnded, Progress, Recorder
from transfer_gui.core.models.backbones import get_spec, register
from transfer_gui.core.train.loop import Trainer

LIMIT = 2.0  # seconds from cancel() to return
SLEEP = 1.0  # per layer group: a batch takes 3 s, so waiting for it would miss the limit


class Pace:
    """How slow the network is, and the cancel that fires once the slow part has begun."""

    def __init__(self) -> None:
        self.forward = {True: 0.0, False: 0.0}  # by torch.is_grad_enabled()
        self.backward = 0.0
        self.token: CancelToken | None = None
        self.cancelled_at: float | None = None
        self._timer: threading.Timer | None = None

    def slow(self, seconds: float) -> None:
        if not seconds:
            return
        if self.token is not None and self._timer is None:
            self._timer = threading.Timer(SLEEP / 2, self._cancel)  # mid-way through a layer
            self._timer.start()
        time.sleep(seconds)

    def _cancel(self) -> None:
        self.cancelled_at = time.perf_counter()
        self.token.cancel()  # type: ignore[union-attr]


PACE = Pace()


class _SlowBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        PACE.slow(PACE.backward)
        return grad


class Sleep(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        PACE.slow(PACE.forward[torch.is_grad_enabled()])
        return _SlowBackward.apply(x) if x.requires_grad else x


class SlowNet(tinynet.TinyNet):
    """TinyNet with a sleep at the end of every layer group (same weights, same keys)."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__(num_classes)
        for group in (self.stem, self.stage1, self.stage2):
            group.append(Sleep())


@pytest.fixture(autouse=True)
def pace():
    register(dataclasses.replace(get_spec("tiny_cnn"), name="slow_cnn", builder=SlowNet))
    PACE.__init__()
    yield PACE
    if PACE._timer is not None:
        PACE._timer.cancel()


def config(root, strategy: str, augment: str) -> RunConfig:
    return RunConfig(DataConfig(root=str(root)), ModelConfig(backbone="slow_cnn",
                                                             strategy=strategy),
                     TrainConfig(epochs=2, batch_size=8, augment=augment, num_workers=0))


def stop_latency(pace: Pace, work) -> float:
    pace.token = CancelToken()
    try:
        result = work(pace.token)
    except Cancelled:
        result = None
    returned = time.perf_counter()
    assert pace.cancelled_at is not None, "the slow part never ran"
    assert result is None or result.status == "cancelled"
    return returned - pace.cancelled_at


@pytest.mark.parametrize("phase", ["validation", "features", "training forward",
                                   "training backward", "adaptation backward"])
def test_stop_is_prompt_inside_a_slow_batch(shapes_dir, tmp_path, pace, phase):
    if phase == "validation":
        pace.forward[False] = SLEEP
        cfg = config(shapes_dir, "full", "light")
    elif phase == "features":
        pace.forward[False] = SLEEP
        cfg = config(shapes_dir, "linear-probe", "none")
    elif phase == "training forward":
        pace.forward[True] = SLEEP
        cfg = config(shapes_dir, "full", "light")
    else:
        pace.backward = SLEEP
        cfg = config(shapes_dir, "full", "light")
    if phase.startswith("adaptation"):  # a DANN step: source and target through the body
        cfg = dataclasses.replace(cfg, transfer=TransferConfig("dann",
                                                               target_dir=str(shapes_dir)))
    latency = stop_latency(pace, lambda token: Trainer().fit(cfg, tmp_path / "run", [],
                                                             cancel=token))
    print(f"\nstop during {phase}: returned {latency:.2f} s after cancel()")
    assert latency < LIMIT


def test_stop_is_prompt_inside_a_slow_evaluation_batch(shapes_dir, tmp_path, pace):
    # a fine-tuned body: evaluation has to run the network (no cached features to reuse)
    cfg = config(shapes_dir, "full", "none")  # one stage: the saved body is a trained one
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, probe_first=False))
    Trainer().fit(cfg, tmp_path / "run", [])
    pace.forward[False] = SLEEP
    latency = stop_latency(pace, lambda token: evaluate_run(tmp_path / "run", device="cpu",
                                                            cancel=token))
    print(f"\nstop during evaluation: returned {latency:.2f} s after cancel()")
    assert latency < LIMIT


def test_without_cancel_points_stop_would_wait_for_the_batch(shapes_dir, tmp_path, pace,
                                                              monkeypatch):
    """The control: the same slow validation misses the limit when only batches are checked."""
    monkeypatch.setattr(interrupt, "_on_forward", lambda *args: None)
    pace.forward[False] = SLEEP
    cfg = config(shapes_dir, "full", "light")
    latency = stop_latency(pace, lambda token: Trainer().fit(cfg, tmp_path / "run", [],
                                                             cancel=token))
    print(f"\nwithout cancel points: returned {latency:.2f} s after cancel()")
    assert latency > LIMIT


@pytest.mark.parametrize("backbone", ["tiny_cnn", "resnet18", "efficientnet_lite0"])
def test_cancel_points_leave_outputs_and_gradients_alone(backbone):
    torch.manual_seed(0)
    model = get_spec(backbone).builder()
    x = torch.randn(2, 3, 64, 64)

    def grads(token: CancelToken | None) -> list[torch.Tensor]:
        model.zero_grad()
        torch.manual_seed(1)  # the same dropout masks
        with interrupt.cancel_points(model, token):
            model(x).square().sum().backward()
        return [p.grad.clone() for p in model.parameters()]

    for plain, hooked in zip(grads(None), grads(CancelToken()), strict=True):
        assert torch.equal(plain, hooked)


def test_hooks_are_removed_afterwards():
    model = SlowNet()
    with interrupt.cancel_points(model, CancelToken()):
        assert model.stem._forward_pre_hooks
    assert not any(m._forward_pre_hooks for m in model.modules())


class CancelOnScan(Callback):
    def __init__(self, token: CancelToken) -> None:
        self.token = token

    def on_progress(self, event: Progress) -> None:
        if event.phase == "scan":
            self.token.cancel()


def test_stop_while_scanning_ends_cleanly(shapes_dir, tmp_path):
    token, rec = CancelToken(), Recorder()
    cfg = config(shapes_dir, "full", "light")
    result = Trainer().fit(cfg, tmp_path / "run", [CancelOnScan(token), rec], cancel=token)
    assert result.status == "cancelled" and "before training started" in result.message
    assert rec.of(FitEnded)[0].status == "cancelled"
    assert not (tmp_path / "run").exists()
