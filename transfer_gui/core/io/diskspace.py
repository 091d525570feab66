"""Disk space: what a run will write, checked before it starts, and failed saves in words.

A run keeps two large files, the best weights and the checkpoint (trainable weights, buffers and
the optimizer's state), and rewrites both atomically: while a new copy is written the old one is
still there. The largest the folder gets is therefore both files plus a second copy of the
larger one (they are written one after the other), plus the small JSON files.
"""

from __future__ import annotations

import errno
import shutil
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from .runmeta import CHECKPOINT, WEIGHTS

SMALL_FILES = 1_000_000  # run.json, its history and the lock files, with room to spare
HEADER, PER_TENSOR = 16_384, 512  # a file's own overhead, a tensor's record in it (measured)
OPTIMIZER_STATES = {"adamw": 2, "sgd": 1}  # tensors kept per trainable parameter
FULL = (errno.ENOSPC, errno.EDQUOT)


class NotEnoughSpace(OSError):
    """The run folder's disk has less free space than the run will need; `str()` says both."""

    refusal = True  # raised before a run does any work or writes anything

    def __init__(self, message: str, needed: int, free: int) -> None:
        super().__init__(errno.ENOSPC, message)
        self.needed, self.free = needed, free

    def __str__(self) -> str:
        return str(self.strerror)


@dataclass(frozen=True)
class Estimate:
    """Bytes a run writes into its folder (and into the cache when that is on the same disk)."""

    weights: int
    checkpoint: int
    other: int  # split and run files, the feature cache when it shares the disk

    @property
    def peak(self) -> int:
        return self.weights + self.checkpoint + max(self.weights, self.checkpoint) + self.other


def tensor_bytes(tensors: object) -> int:
    """Bytes of every tensor in a (nested) state dict."""
    if isinstance(tensors, dict):
        return sum(tensor_bytes(v) for v in tensors.values())
    if isinstance(tensors, list | tuple):
        return sum(tensor_bytes(v) for v in tensors)
    numel, size = getattr(tensors, "numel", None), getattr(tensors, "element_size", None)
    return int(numel() * size()) if callable(numel) and callable(size) else 0


def estimate(model: nn.Module, optimizer: str, other: int = 0) -> Estimate:
    params = [p for p in model.parameters() if p.requires_grad]
    trainable = sum(p.numel() * p.element_size() for p in params)
    buffers = list(model.buffers())
    states = OPTIMIZER_STATES.get(optimizer, 2)
    # the checkpoint: trainable weights, buffers, the optimizer's tensors and a step count each
    tensors = len(params) * (states + 2) + len(buffers)
    state = model.state_dict()
    return Estimate(
        weights=tensor_bytes(state) + HEADER + PER_TENSOR // 4 * len(state),
        checkpoint=(1 + states) * trainable + tensor_bytes(buffers) + HEADER
        + PER_TENSOR * tensors,
        other=other + SMALL_FILES)


def same_disk(a: Path, b: Path) -> bool:
    """Whether two folders (existing or not yet) are on one file system."""
    try:
        return _existing(a).stat().st_dev == _existing(b).stat().st_dev
    except OSError:
        return False


def _existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(_existing(folder)).free
    except OSError:
        return None  # unknown (a vanished mount, a file system without statvfs): no check


def require_space(folder: Path, need: Estimate) -> None:
    """Refuse at once when `folder`'s disk cannot hold the run. The run's own files already in
    the folder (a resumed run) are rewritten in place, so their space counts as available."""
    kept = sum(_size(folder / name) for name in (WEIGHTS, CHECKPOINT))
    needed = max(need.peak - kept, 0)
    free = free_bytes(folder)
    if free is None or free >= needed:
        return
    raise NotEnoughSpace(
        f"not enough free space: this run needs about {mb(needed)} (the model {mb(need.weights)}"
        f" and the checkpoint {mb(need.checkpoint)}, each written beside its old copy), the "
        f"disk of {folder} has {mb(free)} free; free some space or "
        "choose a folder on another disk", needed, free)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def why_not_saved(exc: BaseException, folder: Path, needed: int, what: str = "the file") -> str:
    """A failed write in words: for a full disk, how much `what` needed and how much is free
    (measured after the failed write's temporary file was removed). Some writers report a
    full disk as a short write (torch.save: "unexpected pos"), so the free space decides too."""
    free = free_bytes(folder)
    errno_ = getattr(exc, "errno", None)
    if errno_ in FULL or (free is not None and free < needed):
        room = f", {mb(free)} free" if free is not None else ""
        full = "disk quota full" if errno_ == errno.EDQUOT else "no space left on the device"
        return f"{full}: {what} needs {mb(needed)}{room}"
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return reason[:1].lower() + reason[1:]


def mb(size: float) -> str:
    """Bytes in decimal units, as disks are sold and file managers show them."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            value = size / scale
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{int(size)} bytes"

