"""Decoded images kept for the whole run, so that only the first pass pays for decoding.

Each image's *base* copy (uint8, CHW, shorter side `resize_size`; a 4:3 photo at 256 px is
about 260 kB) is kept in RAM up to a budget and beyond it in memory-mapped spill files on
disk, which the operating system pages in as needed. Augmentation then runs on the small
cached copy every epoch.

DataLoader worker processes cannot fill a cache for the main process (what a worker stores is
lost with it), so `prefill` decodes everything in the main process first, in threads (Pillow
releases the GIL while decoding and resizing). Forked workers then read the filled cache
through memory they share with the parent; the spill files are unlinked temporary files and
vanish when the run ends or crashes.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from ..events import Work
from .images import ImageError

MIB = 1 << 20
SEGMENT_BYTES = 256 * MIB
DISK_RESERVE = 2048 * MIB  # never spill into the last 2 GiB of free disk space


class _Segment:
    """One spill file, mapped into memory; filled front to back."""

    def __init__(self, folder: Path, size: int) -> None:
        # open for the segment's lifetime; closed (and so deleted) by close()
        self.file = tempfile.TemporaryFile(dir=folder, prefix="decoded-")  # noqa: SIM115
        try:
            _reserve(self.file.fileno(), size)
        except OSError:
            self.file.close()
            raise
        self.array = np.memmap(self.file, dtype=np.uint8, mode="r+", shape=(size,))
        self.used = 0

    def close(self) -> None:
        del self.array
        self.file.close()


def _reserve(fd: int, size: int) -> None:
    """Give the spill file its disk blocks now: a disk that fills up later then cannot kill
    the process (a write into a memory map with no block behind it is a SIGBUS, not an
    error). File systems without the call get a sparse file, as before."""
    try:
        os.posix_fallocate(fd, 0, size)
    except (AttributeError, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
            raise
        os.ftruncate(fd, size)


class DecodedCache:
    """uint8 images by key (the file path), in RAM up to `budget_bytes`, then on disk.

    `get` and `put` match what `ImageDataset` expects of its `cache`; both are thread-safe.
    With `spill_dir` None, images beyond the budget are simply not kept.
    """

    def __init__(self, budget_bytes: int, spill_dir: Path | None = None,
                 segment_bytes: int = SEGMENT_BYTES) -> None:
        self.budget = max(0, int(budget_bytes))
        self.spill_dir, self.segment_bytes = spill_dir, segment_bytes
        self._ram: dict[str, torch.Tensor] = {}
        self._spilled: dict[str, tuple[int, int, tuple[int, ...]]] = {}
        self._segments: list[_Segment] = []
        self._lock = threading.Lock()
        self.ram_bytes = self.spill_bytes = 0
        self.spill_failed: str | None = None  # why spilling stopped, if it did

    def __len__(self) -> int:
        return len(self._ram) + len(self._spilled)

    def __contains__(self, key: str) -> bool:
        return key in self._ram or key in self._spilled

    def get(self, key: str) -> torch.Tensor | None:
        image = self._ram.get(key)
        if image is not None:
            return image
        where = self._spilled.get(key)
        if where is None:
            return None
        segment, offset, shape = where
        flat = self._segments[segment].array[offset : offset + int(np.prod(shape))]
        return torch.from_numpy(flat).view(shape)

    def put(self, key: str, image: torch.Tensor) -> bool:
        """Keep `image` (uint8); False when there is no room left anywhere."""
        image = image.contiguous()
        size = image.numel()
        with self._lock:
            if key in self:
                return True
            if self.ram_bytes + size <= self.budget:
                self._ram[key] = image
                self.ram_bytes += size
                return True
            return self._spill(key, image, size)

    def _spill(self, key: str, image: torch.Tensor, size: int) -> bool:
        segment = self._segments[-1] if self._segments else None
        if segment is None or segment.used + size > len(segment.array):
            segment = self._new_segment(max(size, self.segment_bytes))
            if segment is None:
                return False
        offset = segment.used
        segment.array[offset : offset + size] = image.reshape(-1).numpy()
        segment.used += size
        self._spilled[key] = (len(self._segments) - 1, offset, tuple(image.shape))
        self.spill_bytes += size
        return True

    def _new_segment(self, size: int) -> _Segment | None:
        if self.spill_dir is None or self.spill_failed:
            return None
        try:
            self.spill_dir.mkdir(parents=True, exist_ok=True)
            if shutil.disk_usage(self.spill_dir).free < size + DISK_RESERVE:
                self.spill_failed = f"less than {DISK_RESERVE // MIB} MiB of disk space left"
                return None
            segment = _Segment(self.spill_dir, size)
        except OSError as exc:
            self.spill_failed = f"cannot write to {self.spill_dir}: {exc.strerror or exc}"
            return None
        self._segments.append(segment)
        return segment

    def close(self) -> None:
        """Drop everything and delete the spill files."""
        with self._lock:
            self._ram.clear()
            self._spilled.clear()
            for segment in self._segments:
                segment.close()
            self._segments.clear()
            self.ram_bytes = self.spill_bytes = 0

    def summary(self) -> str:
        text = f"{len(self)} decoded images cached: {self.ram_bytes / MIB:.0f} MiB in memory"
        if self.spill_bytes:
            text += f", {self.spill_bytes / MIB:.0f} MiB memory-mapped from disk"
        if self.spill_failed:
            text += f" (the rest is decoded every epoch: {self.spill_failed})"
        return text


def _load(path: str, resize_size: int) -> torch.Tensor | None:
    from .datasets import load_base

    try:
        return load_base(path, resize_size)
    except ImageError:
        return None  # left for the dataset, which reports it when it meets the file


def prefill(
    cache: DecodedCache,
    paths: Sequence[str],
    resize_size: int,
    task: Work | None = None,
    threads: int | None = None,
) -> int:
    """Decode every path not yet cached into `cache`; returns how many it holds of them.
    Stops early when the cache is full. Cancelling stops it between images."""
    task = task or Work()
    todo = list(dict.fromkeys(p for p in paths if p not in cache))
    threads = threads or os.cpu_count() or 1
    done = 0
    task.progress(0, len(todo), "decode images")
    with ThreadPoolExecutor(max_workers=threads) as pool:
        queued: deque[tuple[str, Future]] = deque()
        pending = iter(todo)
        try:
            while True:
                while len(queued) < 4 * threads and (path := next(pending, None)) is not None:
                    queued.append((path, pool.submit(_load, path, resize_size)))
                if not queued:
                    break
                path, future = queued.popleft()
                task.check()
                image = future.result()
                if image is not None and not cache.put(path, image):
                    break
                done += 1
                if done % 25 == 0 or done == len(todo):
                    task.progress(done, len(todo), "decode images")
        finally:
            for _, future in queued:
                future.cancel()
    # a spill folder that cannot be written costs speed, never the run: one warning
    task.message("warning" if cache.spill_failed else "info", cache.summary())
    return sum(p in cache for p in paths)
