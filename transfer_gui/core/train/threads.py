"""How many CPU threads a run uses: torch's intra-op threads, its inter-op threads and the
DataLoader's worker processes, chosen together so that they never ask for more cores than
are free.

Why: torch starts one intra-op thread per core and its OpenMP threads wait for each other at
the end of every parallel operation. When another process takes one of those cores (another
training, the app's own window), every operation waits for the thread that lost its core: on
a shared 2-core machine a fine-tune ran 5-9x slower on 2 threads than on one
(`tests/bench/bench_threads.py`, table (p) in `tests/bench/BENCHMARKS.md`). So a run counts
the cores it may use (its CPU affinity and the container's CPU quota), takes off the cores
other work keeps busy when it starts (`/proc/stat` sampled for a moment; the load average
elsewhere), and shares what is left: loader workers first where there are cores to spare, the
model's threads the rest, one inter-op thread (the eager model runs its operations one after
another).

The user decides when they say so: `TRANSFER_GUI_THREADS` (the model's threads),
`TRANSFER_GUI_INTEROP_THREADS`, or the usual `OMP_NUM_THREADS`; `--workers` (the setting
`num_workers`) for the loader. The plan is logged at the start of every run.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ENV_THREADS = "TRANSFER_GUI_THREADS"
ENV_INTEROP = "TRANSFER_GUI_INTEROP_THREADS"
SAMPLE_S = 0.3  # how long the other work's CPU use is measured for
SPARE = 0.25  # a core busier than this (with other work) is not counted as free


@dataclass(frozen=True)
class ThreadPlan:
    """The threads of a run and why: `cores` this process may use, of which `busy` were
    used by other work when it started; `chosen_by` names a user's setting, or is empty."""

    intra: int
    inter: int
    workers: int
    cores: int
    busy: float
    chosen_by: str = ""

    def text(self) -> str:
        """One line for the run's log."""
        why = (f"as {self.chosen_by} says" if self.chosen_by else
               f"{self.cores} cores, {self.busy:.1f} busy with other work")
        return (f"CPU threads: {self.intra} for the model, {self.inter} between operations, "
                f"{self.workers} loader worker{'s' if self.workers != 1 else ''} ({why}; "
                f"set {ENV_THREADS} or --workers to choose)")


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity, and a container's CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota = _cgroup_quota()
    return max(1, min(cores, math.ceil(quota)) if quota else cores)


def _cgroup_quota() -> float | None:
    """cgroup v2's `cpu.max` ("max 100000" or "200000 100000") in cores; None: no quota."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        return None


def busy_cores(seconds: float = SAMPLE_S) -> float:
    """How many of this process's cores other work keeps busy now (this process is idle while
    it measures). From `/proc/stat` where there is one, else the load average."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = []
    first = _cpu_times(cpus)
    if first is None:
        return _load_average()
    time.sleep(seconds)
    second = _cpu_times(cpus)
    if second is None:
        return _load_average()
    busy = sum((b[0] - a[0]) for a, b in zip(first, second, strict=True))
    total = sum((b[1] - a[1]) for a, b in zip(first, second, strict=True))
    return len(first) * busy / total if total else 0.0


def _cpu_times(cpus: list[int]) -> list[tuple[int, int]] | None:
    """(busy, total) jiffies of each of `cpus` (all CPUs where `cpus` is empty)."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return None
    wanted = {f"cpu{c}" for c in cpus}
    out = []
    for line in lines:
        name, *fields = line.split()
        if name.startswith("cpu") and name != "cpu" and (not wanted or name in wanted):
            values = [int(v) for v in fields[:8]]
            idle = values[3] + values[4]  # idle and iowait
            out.append((sum(values) - idle, sum(values)))
    return out or None


def _load_average() -> float:
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return 0.0


def plan_threads(device_type: str, workers: int | None = None,
                 env: Mapping[str, str] | None = None, cores: int | None = None,
                 busy: float | None = None) -> ThreadPlan:
    """The threads of a run on `device_type` ("cpu", "cuda", ...). `workers`: the loader
    workers the user asked for (None: chosen here). `cores` and `busy` default to this
    machine's, measured now (`busy` only when no user setting fixes the model's threads)."""
    env = os.environ if env is None else env
    cores = usable_cores() if cores is None else cores
    given, by = _given(env)
    if busy is None:
        busy = 0.0 if given else busy_cores()
    free = max(1, cores - max(0, math.ceil(busy - SPARE)))
    if workers is None:
        workers = _default_workers(device_type, free)
    intra = given or max(1, free - workers if device_type == "cpu" else min(4, free - workers))
    inter = _positive(env.get(ENV_INTEROP)) or 1
    return ThreadPlan(intra, inter, workers, cores, busy, by)


def _given(env: Mapping[str, str]) -> tuple[int | None, str]:
    for name in (ENV_THREADS, "OMP_NUM_THREADS"):
        value = _positive(env.get(name))
        if value:
            return value, f"{name}={value}"
    return None, ""


def _positive(text: str | None) -> int | None:
    try:
        value = int(str(text).strip())
    except ValueError:
        return None
    return value if value > 0 else None


def _default_workers(device_type: str, free: int) -> int:
    """Loader workers: a GPU waits for decoded images, so they get most of the free cores; on
    the CPU the model needs them, and workers pay off only with cores to spare."""
    if device_type == "cuda":
        return min(8, max(free - 1, 0))
    return 0 if free <= 2 else min(4, free // 2)


def apply_plan(plan: ThreadPlan) -> None:
    """Set torch's threads for the calling thread (with OpenMP the count is per thread: the
    window's training thread sets its own) and, once per process, its inter-op threads."""
    import torch

    torch.set_num_threads(plan.intra)
    if torch.get_num_interop_threads() != plan.inter:
        try:
            torch.set_num_interop_threads(plan.inter)
        except RuntimeError:  # inter-op work already ran in this process: it keeps its pool
            pass
