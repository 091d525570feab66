"""Which part of the data each process of a distributed run reads (`Shard`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shard:
    """Which part of the data one process reads: of each training batch, and of validation, the
    `rank`-th of `world` contiguous parts (sizes differ by at most one image; nothing is padded
    or read twice). One process (`world` 1) reads everything."""

    rank: int = 0
    world: int = 1

    def part(self, items: list[int]) -> list[int]:
        n = len(items)
        return items[n * self.rank // self.world : n * (self.rank + 1) // self.world]

    def batches(self, batches: list[list[int]]) -> list[list[int]]:
        """This process's part of each of an epoch's (global) batches. A last batch too small
        to give every process an image joins the one before it."""
        if self.world == 1:
            return batches
        batches = [list(b) for b in batches]
        if len(batches) > 1 and len(batches[-1]) < self.world:
            batches[-2].extend(batches.pop())
        return [self.part(b) for b in batches]

    def sequential(self, n: int, batch_size: int) -> list[list[int]]:
        """This process's contiguous part of `n` items, in batches of `batch_size`."""
        lo, hi = n * self.rank // self.world, n * (self.rank + 1) // self.world
        return [list(range(i, min(i + batch_size, hi))) for i in range(lo, hi, batch_size)]

    def span(self, n: int) -> range:
        return range(n * self.rank // self.world, n * (self.rank + 1) // self.world)

    def whole_batches(self, n: int, batch_size: int) -> range:
        """This process's contiguous part of `n` items made of whole batches of `batch_size`
        (the batches one process would form): the processes' parts are those batches, each
        computed once."""
        batches = self.span(-(-n // batch_size))
        return range(min(batches.start * batch_size, n), min(batches.stop * batch_size, n))


WHOLE = Shard()
