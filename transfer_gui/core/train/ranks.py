"""The processes of a run: which one this is, how many there are, and what they share.

`torchrun` (`torch.distributed.run`) starts one process per device and tells each, in
environment variables, its rank (`RANK`), their number (`WORLD_SIZE`), its rank on this
computer (`LOCAL_RANK`) and where they meet (`MASTER_ADDR`, `MASTER_PORT`). `Ranks.from_env`
reads them; `Ranks.start` joins the process group (NCCL between GPUs, gloo between CPUs).
A run of one process has `SOLO`, whose every collective does nothing, so the loop and its parts
call them without asking how many processes there are.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist

from ..data.shard import WHOLE, Shard
from .recipe import pick_device

ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
_CONTROL: list[Any] = [None]  # beside NCCL, a gloo group for the per-step stop flag (no GPU sync)




@dataclass(frozen=True)
class Ranks:
    """This process among the run's processes. `SOLO`: the only one."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    backend: str = ""  # "nccl" or "gloo" once started
    shard: Shard = field(default=WHOLE)

    @property
    def main(self) -> bool:
        """The process that writes the run folder and speaks (rank 0)."""
        return self.rank == 0

    @property
    def many(self) -> bool:
        return self.world > 1

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Ranks:
        """The processes `torchrun` started (SOLO when not started by it, or alone)."""
        env = dict(os.environ if env is None else env)
        if not all(k in env for k in ENV) or int(env["WORLD_SIZE"]) < 2:
            return SOLO
        rank, world = int(env["RANK"]), int(env["WORLD_SIZE"])
        return cls(rank, world, int(env["LOCAL_RANK"]), "", Shard(rank, world))

    def device(self, name: str) -> torch.device:
        """This process's device: its own GPU (`LOCAL_RANK`) where the run uses CUDA."""
        device = pick_device(name)
        if self.many and device.type == "cuda":
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        return device

    def start(self, device: torch.device) -> Ranks:
        """Join the process group: NCCL for GPUs, gloo for CPUs (SOLO: nothing to join)."""
        if not self.many:
            return self
        backend = "nccl" if device.type == "cuda" else "gloo"
        if not dist.is_initialized():
            dist.init_process_group(backend)
            _CONTROL[0] = dist.new_group(backend="gloo") if backend == "nccl" else None
        return Ranks(self.rank, self.world, self.local_rank, backend, self.shard)

    def close(self) -> None:
        if self.many and dist.is_initialized():
            dist.destroy_process_group()
            _CONTROL[0] = None

    def _wire(self, t: torch.Tensor) -> torch.Tensor:
        """`t` where the backend can reduce it (NCCL: on this process's GPU)."""
        if self.backend == "nccl":
            return t.to(torch.device("cuda", self.local_rank))
        return t.cpu()

    def sum(self, t: torch.Tensor) -> torch.Tensor:
        """The sum of `t` over the processes (a new tensor on `t`'s device)."""
        if not self.many:
            return t
        wire = self._wire(t.detach().clone())
        dist.all_reduce(wire)
        return wire.to(t.device)

    def any(self, flag: bool) -> bool:
        """Whether `flag` is set on any process (between CPUs: asked every step, it never
        waits for a GPU)."""
        if not self.many:
            return flag
        t = torch.tensor([float(flag)])
        dist.all_reduce(t, group=_CONTROL[0])
        return bool(t.item() > 0)

    def gather_rows(self, t: torch.Tensor) -> torch.Tensor:
        """Every process's rows of `t`, concatenated in rank order (row counts may differ)."""
        if not self.many:
            return t
        sizes = [int(n) for n in self.objects(len(t))]
        wide = torch.zeros((max(sizes), *t.shape[1:]), dtype=t.dtype)
        wide[: len(t)] = t.cpu()
        parts = [self._wire(torch.empty_like(wide)) for _ in sizes]
        dist.all_gather(parts, self._wire(wide))
        return torch.cat([p.cpu()[:n] for p, n in zip(parts, sizes, strict=True)]).to(t.device)

    def objects(self, obj: Any) -> list[Any]:
        """`obj` of every process, in rank order."""
        if not self.many:
            return [obj]
        out: list[Any] = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def from_main(self, obj: Any) -> Any:
        """Rank 0's `obj`, on every process."""
        if not self.many:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def share_module(self, module: torch.nn.Module) -> None:
        """Rank 0's parameters and buffers of `module`, on every process."""
        if not self.many:
            return
        for t in [*module.parameters(), *module.buffers()]:
            wire = self._wire(t.detach().clone())
            dist.broadcast(wire, src=0)
            with torch.no_grad():
                t.copy_(wire.to(t.device))


SOLO = Ranks()
