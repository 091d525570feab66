"""Where training batches come from: decoded images, or features cached from a frozen body.

Both sources give the trainer the same three things: the batches of an epoch (in an order fixed
by the seed and the epoch number, so a resumed run sees the same order), the validation batches,
and how the model turns a batch into logits. A batch (`Batch`) also says which of its files
failed to load and why; they are already left out of its images and labels (`assemble`).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import torch
from torch.utils.data import DataLoader

from ..models.backbones import TransferNet
from .balance import balanced_draw
from .datasets import ImageDataset
from .images import why_unusable
from .scan import Sample
from .shard import WHOLE, Shard

T = TypeVar("T")
_END = object()
Failed = tuple[Sample, str]  # a file that failed to load, and why


@dataclass
class Batch:
    """Images (or features) and labels, and the files of the batch that failed to load (not in
    `x` and `y`). `partner`: the other folder's batch of a joint or adaptation step."""

    x: torch.Tensor
    y: torch.Tensor
    failed: list[Failed] = field(default_factory=list)
    partner: Batch | None = None


class BatchSource(Protocol):
    """What the training loop draws its batches from: the images (`ImageBatches`), cached
    features (`FeatureBatches`), images augmented on the GPU (`gpuaug`), or a labelled folder
    paired with a second one (`train.transfer.paired`)."""

    @property
    def steps_per_epoch(self) -> int: ...
    def train_epoch(self, epoch: int) -> Iterator[Batch]: ...
    def val_batches(self) -> Iterator[Batch]: ...
    def forward(self, model: TransferNet, x: torch.Tensor) -> torch.Tensor: ...


def failure(sample: Sample) -> Failed:
    return sample, why_unusable(sample.path) or "could not be read (it may have been changing)"


def assemble(x: torch.Tensor, y: torch.Tensor, loaded: torch.Tensor, samples: Sequence[Sample],
             indices: Sequence[int]) -> Batch:
    """The batch of `samples[indices]` without the files that did not load (`loaded`, a CPU
    bool tensor, is False for them)."""
    if bool(loaded.all()):
        return Batch(x, y)
    flags = loaded.tolist()
    keep = loaded.to(x.device)
    return Batch(x[keep], y[keep], [failure(samples[i]) for i, ok in zip(indices, flags,
                                                                           strict=True) if not ok])


def epoch_order(n: int, batch_size: int, seed: int, epoch: int,
                balance: Sequence[int] | None = None) -> list[list[int]]:
    """Shuffled index batches for one epoch; with `balance` (the `n` labels), `n` indices drawn
    with each class equally likely (`balance.balanced_draw`). A trailing batch of one is
    merged into the one before it (a batch of one breaks BatchNorm in training mode)."""
    if balance is not None:
        order = balanced_draw(balance, seed, epoch)
    else:
        generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
        order = torch.randperm(n, generator=generator).tolist()
    batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches[-2].extend(batches.pop())
    return batches


def sequential(n: int, batch_size: int) -> list[list[int]]:
    return [list(range(i, min(i + batch_size, n))) for i in range(0, n, batch_size)]


class ImageBatches:
    """Batches of decoded, transformed images through a DataLoader."""

    def __init__(
        self,
        train: ImageDataset,
        val: ImageDataset,
        batch_size: int,
        seed: int,
        workers: int,
        device: torch.device,
        channels_last: bool = False,
        shard: Shard = WHOLE,
        balanced: bool = False,
    ) -> None:
        """`balanced`: each epoch draws the classes equally often (`epoch_order`)."""
        self.train, self.val_set = train, val
        self.shard = shard
        self.batch_size, self.seed, self.workers = batch_size, seed, workers
        self.device = device
        self.channels_last = channels_last
        self.draw = [s.label for s in train.samples] if balanced else None

    @property
    def steps_per_epoch(self) -> int:
        return len(epoch_order(len(self.train), self.batch_size, self.seed, 0))

    def _loader(self, dataset: ImageDataset, batches: list[list[int]]) -> DataLoader:
        return DataLoader(
            dataset,
            batch_sampler=batches,
            num_workers=self.workers,
            pin_memory=self.device.type == "cuda",
        )

    def _batches(self, dataset: ImageDataset, order: list[list[int]]) -> Iterator[Batch]:
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        for indices, (x, y, loaded) in zip(order, self._loader(dataset, order), strict=True):
            x = x.to(self.device, non_blocking=True, memory_format=fmt)
            yield assemble(x, y.to(self.device, non_blocking=True), loaded, dataset.samples,
                           indices)

    def train_epoch(self, epoch: int) -> Iterator[Batch]:
        return self._batches(self.train, self.shard.batches(
            epoch_order(len(self.train), self.batch_size, self.seed, epoch, self.draw)))

    def val_batches(self) -> Iterator[Batch]:
        return self._batches(self.val_set, self.shard.sequential(len(self.val_set),
                                                                 self.batch_size))

    def forward(self, model: TransferNet, x: torch.Tensor) -> torch.Tensor:
        return model(x)


class FeatureBatches:
    """Batches of cached body features: only the head runs, so an epoch costs almost nothing.
    Files that failed to load were left out when the features were computed: `failed`."""

    def __init__(
        self,
        train: tuple[torch.Tensor, torch.Tensor],
        val: tuple[torch.Tensor, torch.Tensor],
        batch_size: int,
        seed: int,
        device: torch.device,
        failed: Sequence[Failed] = (),
        shard: Shard = WHOLE,
        balanced: bool = False,
    ) -> None:
        """`train` and `val`: (features, labels), all of them (`shard`: the part of each
        batch and of validation that this process trains and validates on; `balanced` as for
        `ImageBatches`)."""
        self.failed, self.shard = list(failed), shard
        self.draw = [int(y) for y in train[1].tolist()] if balanced else None
        self.train_x, self.train_y = (t.to(device) for t in train)
        self.val_x, self.val_y = (t.to(device) for t in val)
        self.batch_size, self.seed = batch_size, seed

    @property
    def steps_per_epoch(self) -> int:
        return len(epoch_order(len(self.train_x), self.batch_size, self.seed, 0))

    def train_epoch(self, epoch: int) -> Iterator[Batch]:
        batches = self.shard.batches(epoch_order(len(self.train_x), self.batch_size, self.seed,
                                                 epoch, self.draw))
        order = torch.tensor([i for b in batches for i in b]).to(self.train_x.device)
        start = 0
        for idx in batches:  # one copy of the order per epoch, not one per step
            index = order[start : start + len(idx)]
            start += len(idx)
            yield Batch(self.train_x[index], self.train_y[index])

    def val_batches(self) -> Iterator[Batch]:
        for idx in self.shard.sequential(len(self.val_x), self.batch_size):
            yield Batch(self.val_x[idx[0] : idx[-1] + 1], self.val_y[idx[0] : idx[-1] + 1])

    def forward(self, model: TransferNet, x: torch.Tensor) -> torch.Tensor:
        return model.head(x)


def _one_torch_thread() -> None:
    """Run this thread's torch operations on one core. With OpenMP the thread count is per
    thread, so the model in the main thread keeps all cores; without it the setting would be
    process-wide, and it is left alone."""
    if "OpenMP" in torch.__config__.parallel_info():
        torch.set_num_threads(1)


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetch(items: Iterable[T], depth: int = 1) -> Iterator[T]:
    """`items`, produced by a background thread up to `depth` ahead of the consumer.

    For one pass of decoding plus inference (feature extraction, evaluation): Pillow and torch
    release the GIL, so the next batch decodes while the model runs on this one. Only for
    deterministic work: a thread drawing random numbers would make seeded runs irreproducible.
    """
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> None:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def produce() -> None:
        _one_torch_thread()
        try:
            for item in items:
                if stop.is_set():
                    return
                offer(item)
            offer(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            offer(_Failed(exc))

    worker = threading.Thread(target=produce, name="prefetch", daemon=True)
    worker.start()
    try:
        while (item := slots.get()) is not _END:
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        worker.join()
