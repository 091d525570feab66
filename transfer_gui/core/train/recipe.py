"""The pieces of a training recipe: device, precision, optimizer and learning-rate schedule."""

from __future__ import annotations

import contextlib
import itertools
import os
import warnings
from collections.abc import Sequence
from typing import Any

import torch

from ..config import ConfigError, TrainConfig
from ..models.layers import Group, param_groups


def pick_device(name: str = "auto") -> torch.device:
    """"auto" takes CUDA when present (Apple's MPS too), else the CPU."""
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for, but no CUDA GPU is available")
    if name in ("cuda", "cpu"):
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def device_label(device: torch.device, processes: int = 1) -> str:
    """Where a run trains, in words; `processes`: how many train it together (torchrun)."""
    if device.type == "cuda":
        label = f"GPU: {torch.cuda.get_device_name(device)}"
    elif device.type == "mps":
        label = "GPU: Apple MPS"
    else:
        label = f"CPU ({os.cpu_count()} cores)"
    return label if processes < 2 else f"{label}, {processes} processes"


def amp_dtype(device: torch.device, enabled: bool) -> torch.dtype | None:
    """The autocast dtype: bf16 where the GPU supports it, else fp16; None on the CPU."""
    if not enabled or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def channels_last_for(device: torch.device) -> bool:
    """Channels-last (NHWC) memory layout: faster convolutions on CUDA (tensor cores) and on
    the CPU (oneDNN; measured 1.5-1.7x for EfficientNet-Lite0 on 2 cores). MPS is left as is."""
    return device.type in ("cuda", "cpu")


def configure_device(device: torch.device) -> None:
    """Process-wide speed settings for `device`: cuDNN picks the fastest convolution algorithm
    for each input shape (they repeat every step), and float32 matrix products may use TF32."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.set_float32_matmul_precision("high")


def maybe_compile(model: torch.nn.Module, enabled: bool) -> bool:
    """Compile `model`'s forward with `torch.compile` (in place: its state dict keeps its
    names). Compilation takes tens of seconds up front, so it is off by default; if it fails
    at run time (no compiler, an unsupported operation) the eager model runs instead."""
    if not enabled:
        return False
    import torch._dynamo

    torch._dynamo.config.suppress_errors = True
    model.compile()
    return True


def make_optimizer(
    model: torch.nn.Module,
    groups: Sequence[Group],
    train: TrainConfig,
    lr_ratio: float,
) -> torch.optim.Optimizer:
    assert train.lr is not None
    params = param_groups(model, groups, train.lr, train.weight_decay, lr_ratio,
                          train.layer_decay)
    if not params:
        raise ConfigError("nothing to train: every parameter is frozen")
    if train.optimizer == "sgd":
        return torch.optim.SGD(params, lr=train.lr, momentum=0.9, nesterov=True)
    return torch.optim.AdamW(params, lr=train.lr)


def make_scheduler(
    optimizer: torch.optim.Optimizer, schedule: str, total_steps: int,
    phases: list[int] | None = None,
) -> torch.optim.lr_scheduler.LRScheduler:
    """The run's schedule, stepped once per batch. With several `phases` (steps in each: the
    head alone, then the unfrozen layers), every phase gets the schedule's shape of its own."""
    sched = torch.optim.lr_scheduler
    total_steps = max(total_steps, 1)
    if schedule == "constant":
        return sched.ConstantLR(optimizer, factor=1.0, total_iters=0)
    if phases and len(phases) > 1:
        return _in_sequence(optimizer, [part for length in phases
                                        for part in _phase(optimizer, schedule, length)])
    if schedule == "onecycle":
        peaks = [g["lr"] for g in optimizer.param_groups]
        # torch divides by zero when the warm-up is exactly one step (4 steps at 25 %).
        pct = 0.25 if total_steps != 4 else 0.3
        return sched.OneCycleLR(optimizer, max_lr=peaks, total_steps=total_steps, pct_start=pct)
    return _in_sequence(optimizer, _warm_cosine(optimizer, total_steps, total_steps // 20, 0.1))


def _phase(optimizer: torch.optim.Optimizer, schedule: str,
           length: int) -> list[tuple[int, torch.optim.lr_scheduler.LRScheduler]]:
    """One phase of a phased run: a linear warm-up from 1/25 of the peak over its first
    quarter for "onecycle", from a tenth over its first 5 % for "cosine", then a half cosine
    down to zero. Not `OneCycleLR` per phase: its warm-up is a cosine, it also cycles the
    momentum, and it writes each group's starting rate into the optimizer as the base that
    every later scheduler there starts from. Its floor, 1/250 000 of each group's peak, has
    no equal here either (`CosineAnnealingLR`'s floor is one rate for all groups): zero
    instead, at most 4e-6 of the peak lower."""
    length = max(int(length), 1)
    if schedule == "onecycle":
        return _warm_cosine(optimizer, length, round(length * 0.25), 1 / 25)
    return _warm_cosine(optimizer, length, round(length * 0.05), 0.1)


def _warm_cosine(optimizer: torch.optim.Optimizer, length: int, warm: int,
                 start: float) -> list[tuple[int, torch.optim.lr_scheduler.LRScheduler]]:
    """(steps, scheduler) pairs: a linear warm-up of `warm` steps (at least one) from `start`
    times the peak, then a half cosine to zero over the rest of `length`."""
    sched = torch.optim.lr_scheduler
    warm = max(warm, 1)
    parts: list[tuple[int, torch.optim.lr_scheduler.LRScheduler]] = [
        (warm, sched.LinearLR(optimizer, start_factor=start, total_iters=warm))]
    if length > warm:
        parts.append((length - warm, sched.CosineAnnealingLR(optimizer, T_max=length - warm)))
    return parts


def _in_sequence(optimizer: torch.optim.Optimizer,
                 parts: list[tuple[int, torch.optim.lr_scheduler.LRScheduler]],
                 ) -> torch.optim.lr_scheduler.LRScheduler:
    """One scheduler running `parts` one after the other, each for its number of steps."""
    ends = list(itertools.accumulate(steps for steps, _ in parts))
    return torch.optim.lr_scheduler.SequentialLR(optimizer, [s for _, s in parts], ends[:-1])


def lr_ratio_for(strategy: str) -> float:
    """Earliest trainable group's rate relative to the head: discriminative for fine-tuning."""
    return 0.1 if strategy == "fine-tune" else 1.0


def restore_schedule(scheduler: torch.optim.lr_scheduler.LRScheduler,
                     optimizer: torch.optim.Optimizer, state: dict[str, Any],
                     steps_otherwise: int) -> int | None:
    """Continue `scheduler` from a checkpoint's `state`. A state written by an older release
    may be another kind of schedule's: then the schedule is walked forward by the steps already
    taken (AdamW counts them; `steps_otherwise` for SGD), which gives the same rates, and the
    step it reached is returned (None when the state loaded as it was)."""
    if set(scheduler.state_dict()) <= set(state):  # torch's loader checks no keys itself
        try:
            scheduler.load_state_dict(state)
            return None
        except (KeyError, ValueError, TypeError, IndexError, AttributeError):
            pass
    counts = [float(s["step"]) for s in optimizer.state.values() if "step" in s]
    steps = int(max(counts, default=0)) or steps_otherwise
    with warnings.catch_warnings():  # no optimizer step between these: that is the point
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(steps):
            scheduler.step()
    return steps
