"""Gathering concurrent requests into one forward pass.

Each request hands its decoded images to `Batcher.submit` and waits on the future it gets. One
worker thread takes the first waiting request, then keeps taking more for up to `wait_s`
seconds or until `max_batch` images are gathered, runs the model once on all of them and hands
each request its own rows. One client pays at most `wait_s` of extra latency; many clients
share forward passes, which costs less per image than one pass each.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import MAX_BATCH, WAIT_S

Forward = Callable[[Sequence[Any]], np.ndarray]  # images -> one row of probabilities each



@dataclass
class _Job:
    images: Sequence[Any]
    future: Future = field(default_factory=Future)


class Batcher:
    """Runs `forward` on batches gathered from concurrent `submit` calls, in one thread."""

    def __init__(self, forward: Forward, max_batch: int = MAX_BATCH,
                 wait_s: float = WAIT_S) -> None:
        if max_batch < 1 or wait_s < 0:
            raise ValueError("the batch size must be at least 1 and the wait at least 0")
        self.forward, self.max_batch, self.wait_s = forward, max_batch, wait_s
        self.passes = 0  # forward passes run, for the statistics
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="serve-batcher", daemon=True)
        self._thread.start()

    def submit(self, images: Sequence[Any]) -> Future:
        """A future of the probabilities of `images` (one row each, in order)."""
        job = _Job(images)
        if not self._thread.is_alive():
            job.future.set_exception(RuntimeError("the server is shutting down"))
        else:
            self._jobs.put(job)
        return job.future

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while True:
            first = self._jobs.get()
            if first is None:
                return
            batch = self._gather(first)
            self._run(batch)
            if batch[-1] is None:
                return

    def _gather(self, first: _Job) -> list:
        """`first` and whatever else arrives before the wait ends or the batch is full; a
        trailing None means close() was called meanwhile."""
        batch: list = [first]
        size = len(first.images)
        deadline = time.monotonic() + self.wait_s
        while size < self.max_batch:
            try:
                job = self._jobs.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            batch.append(job)
            if job is None:
                break
            size += len(job.images)
        return batch

    def _run(self, batch: list) -> None:
        jobs = [j for j in batch if j is not None]
        images = [im for j in jobs for im in j.images]
        try:
            probs = self.forward(images)
        except Exception as exc:  # noqa: BLE001 - every waiting request learns why, none hangs
            for job in jobs:
                job.future.set_exception(exc)
            return
        self.passes += 1
        start = 0
        for job in jobs:
            job.future.set_result(probs[start:start + len(job.images)])
            start += len(job.images)
