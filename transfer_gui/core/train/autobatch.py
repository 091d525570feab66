"""Batch sizes that fit in GPU memory: the automatic choice, and recovery from out-of-memory.

Running out of GPU memory in the middle of a run does not end it: the batch is split into two
chunks whose gradients are accumulated before the optimizer step, so the effective batch size,
the learning-rate schedule and the order of the data stay exactly as configured (only
BatchNorm sees smaller batches). Each further failure halves the chunks again; when even
`MIN_CHUNK` images at a time do not fit, the run stops with `OutOfMemory`, which says so.
"""

from __future__ import annotations

import dataclasses
import gc
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import torch
import torch.nn.functional as F

from ..errors import UserError
from ..events import Work
from ..models.layers import train_mode
from ..wording import count
from .prepare import on_features
from .recipe import autocast

if TYPE_CHECKING:
    from .prepare import Prepared

T = TypeVar("T")
MIN_CHUNK = 2
MAX_AUTO_BATCH = 512
OOM_ERRORS: tuple[type[BaseException], ...] = (torch.cuda.OutOfMemoryError,)


class OutOfMemory(UserError, RuntimeError):
    """Even the smallest batch does not fit in the device's memory."""


def free_memory(device: torch.device) -> None:
    """Give cached GPU memory back after an out-of-memory error (call outside `except`, so the
    traceback holding the failed step's tensors is gone)."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def _too_small(images: int, what: str) -> OutOfMemory:
    return OutOfMemory(
        f"out of GPU memory: even {count(images, 'image')} at a time do not fit for {what}. "
        "Choose a smaller image size or backbone, or train on the CPU; the best epoch so far is "
        "kept."
    )


class Chunking:
    """How many chunks each batch is split into; doubled on every out-of-memory error."""

    def __init__(self, device: torch.device, task: Work | None = None, what: str = "training"):
        self.device, self.task, self.what = device, task or Work(), what
        self.chunks = 1

    def run(self, work: Callable[[int], T], batch: int) -> T:
        """`work(chunks)`, retried with twice the chunks after each out-of-memory error."""
        while True:
            try:
                return work(self.chunks)
            except OOM_ERRORS:
                pass  # leave the handler first: its traceback keeps the step's tensors alive
            self._split_more(batch)

    def _split_more(self, batch: int) -> None:
        free_memory(self.device)
        before = -(-batch // self.chunks)
        size = -(-batch // (self.chunks * 2))
        if size < MIN_CHUNK or size == before:
            raise _too_small(before, self.what)
        self.chunks *= 2
        self.task.message(
            "warning", f"out of GPU memory with {count(before, 'image')} at a time ({self.what}): "
                       f"continuing with {self.chunks} chunks of {size} per batch; gradients are "
                       "accumulated, so the effective batch size is unchanged")


def largest_fitting(attempt: Callable[[int], None], start: int, device: torch.device,
                    task: Work | None = None, minimum: int = MIN_CHUNK) -> int:
    """The first of start, start/2, start/4, ... for which `attempt(n)` raises no
    out-of-memory error; `OutOfMemory` when none down to `minimum` fits."""
    task = task or Work()
    size = start
    while size >= minimum:
        try:
            attempt(size)
            return size
        except OOM_ERRORS:
            pass
        free_memory(device)
        task.message("info", f"automatic batch size: {count(size, 'image')} do not fit in GPU "
                             f"memory, trying {size // 2}")
        size //= 2
    raise _too_small(minimum, "the automatic batch size")


def probe_batch_size(prep: Prepared, device: torch.device, dtype: torch.dtype | None,
                     channels_last: bool, task: Work | None = None) -> int:
    """The largest power-of-two batch (up to `MAX_AUTO_BATCH` and the training set) for which
    a forward and backward pass fits. The model's buffers and the random state are restored."""
    model, side = prep.model.to(device), prep.preprocess.image_size
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    if channels_last:
        model.to(memory_format=fmt)
    start = 1 << (min(MAX_AUTO_BATCH, max(len(prep.train), MIN_CHUNK)).bit_length() - 1)
    saved = {k: v.detach().clone() for k, v in model.named_buffers()}

    def attempt(n: int) -> None:
        x = torch.randn(n, 3, side, side, device=device).contiguous(memory_format=fmt)
        with autocast(device, dtype):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), torch.zeros(n, dtype=torch.long, device=device))
        if loss.requires_grad:
            loss.backward()
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        train_mode(model)
        try:
            return largest_fitting(attempt, start, device, task)
        finally:
            model.zero_grad(set_to_none=True)
            with torch.no_grad():
                for name, value in model.named_buffers():
                    value.copy_(saved[name])
            free_memory(device)


def settle_batch_size(prep: Prepared, device: torch.device, dtype: torch.dtype | None,
                      channels_last: bool, task: Work | None = None) -> Prepared:
    """`prep` with its batch size chosen, when the configuration asks for an automatic one.

    Only a GPU is probed: on the CPU, and for a head trained on cached features, the configured
    batch size stays (memory is rarely the limit there, and the batch size is a
    hyperparameter). The chosen size is written into the configuration saved with the run.
    """
    task = task or Work()
    train = prep.config.train
    if not train.auto_batch_size:
        return prep
    cached = on_features(prep)
    if device.type != "cuda" or cached:
        where = "the CPU" if device.type != "cuda" else "cached features"
        task.message("info", f"automatic batch size is for GPU training; using "
                             f"{train.batch_size} on {where}")
        return prep
    size = probe_batch_size(prep, device, dtype, channels_last, task)
    task.message("info", f"automatic batch size: {size}")
    config = dataclasses.replace(prep.config,
                                 train=dataclasses.replace(train, batch_size=size))
    return dataclasses.replace(prep, config=config)
