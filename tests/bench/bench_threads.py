"""(p) CPU threads on a shared machine: torch's default threads against one thread and the
run's own choice (`core/train/threads.py`), alone and beside a competing CPU-bound process.

The work is a small fine-tune: EfficientNet-Lite0 (its ImageNet weights), every layer
training with AdamW, on real-looking photographs decoded once at 64 px, batches of 32 with a
random crop and flip (what the engine's CPU path does per step). The intra-op thread count
is set per cell in one process (with OpenMP, `torch.set_num_threads` applies at once), so
the settings alternate step block by step block and every setting sees the same machine: on
a machine shared with other work the load changes from minute to minute. One inter-op thread
throughout (eager training runs its operations one after another: the inter-op pool is idle
either way). "Chosen by the run" measures the machine as a run does when it starts
(`plan_threads`), before each block of steps.

Competitors, started by this script (with its niceness):

* `busy`: a process that keeps one core busy (`while True: pass`);
* `light`: one that uses about 15 % of a core in short bursts (an open window drawing).

    nice -n 10 python tests/bench/bench_threads.py [--rounds 3] [--steps 6]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
from common import load_average, machine, photos

from transfer_gui.core.data.datasets import load_base
from transfer_gui.core.models.backbones import get_spec
from transfer_gui.core.models.weights import build_model
from transfer_gui.core.train.threads import plan_threads

COMPETITORS = {
    "alone": None,
    "busy": "while True: pass",
    "light": ("import time\nwhile True:\n    t = time.perf_counter()\n"
              "    while time.perf_counter() - t < 0.015: pass\n    time.sleep(0.085)"),
}
DEFAULT = torch.get_num_threads()  # what torch starts with: one per physical core


def images(per_class: int) -> tuple[torch.Tensor, torch.Tensor]:
    folder = photos(per_class, size=(160, 120))
    paths = sorted(folder.rglob("*.jpg"))
    classes = sorted({p.parent.name for p in paths})
    x = torch.stack([load_base(str(p), 72) for p in paths])  # uint8, 72 px: cropped to 64
    y = torch.tensor([classes.index(p.parent.name) for p in paths])
    return x, y


def batch(x: torch.Tensor, y: torch.Tensor, rng: torch.Generator) -> tuple:
    pick = torch.randint(len(x), (32,), generator=rng)
    i, j = (int(v) for v in torch.randint(9, (2,), generator=rng))
    crop = x[pick, :, i:i + 64, j:j + 64].float() / 127.5 - 1
    if bool(torch.rand(1, generator=rng) < 0.5):
        crop = crop.flip(3)
    return crop, y[pick]


def block(model, optimizer, x, y, rng, steps: int) -> float:
    """Images/s over `steps` optimizer steps (after one untimed step)."""
    model.train()
    for n in range(steps + 1):
        if n == 1:
            start = time.perf_counter()
        xb, yb = batch(x, y, rng)
        loss = F.cross_entropy(model(xb), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return steps * 32 / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--per-class", type=int, default=20)
    parser.add_argument("--only", default=",".join(COMPETITORS))
    args = parser.parse_args()
    torch.set_num_interop_threads(1)
    x, y = images(args.per_class)
    model = build_model(get_spec("efficientnet_lite0"), int(y.max()) + 1, True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    rng = torch.Generator().manual_seed(0)
    wheres = args.only.split(",")
    names = [f"torch default ({DEFAULT} threads, before)", "1 thread", "chosen by the run"]
    figures: dict[tuple[str, str], list[float]] = {}
    chosen: dict[str, list[int]] = {}
    print(f"{machine()}; load average at the start {load_average()}", flush=True)
    for where in wheres:
        code = COMPETITORS[where]
        rival = None if code is None else subprocess.Popen([sys.executable, "-c", code])
        try:
            time.sleep(2)
            for n in range(args.rounds):
                for name in names:
                    if name.startswith("chosen"):
                        plan = plan_threads("cpu")
                        threads = plan.intra
                        chosen.setdefault(where, []).append(threads)
                    else:
                        threads = DEFAULT if name.startswith("torch") else 1
                    torch.set_num_threads(threads)
                    speed = block(model, optimizer, x, y, rng, args.steps)
                    figures.setdefault((name, where), []).append(speed)
                    print(f"round {n + 1} {where:6} {name:32} {threads} threads "
                          f"{speed:6.1f} images/s (load {load_average()})", flush=True)
        finally:
            if rival is not None:
                rival.kill()
                rival.wait()
    print("\n| setting | " + " | ".join(wheres) + " |")
    print("|---|" + "---|" * len(wheres))
    for name in names:
        cells = [figures[(name, w)] for w in wheres]
        print(f"| {name} | " + " | ".join(
            f"{statistics.median(c):.1f} ({min(c):.1f}-{max(c):.1f})" for c in cells) + " |")
    for where, counts in chosen.items():
        print(f"chosen ({where}): intra-op threads {counts}")
    print("RESULT " + json.dumps({"bench": "threads", "figures": {
        f"{n} / {w}": v for (n, w), v in figures.items()}, "chosen": chosen}))


if __name__ == "__main__":
    main()
