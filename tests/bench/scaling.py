"""Scaling of one run over processes (`torchrun`, DistributedDataParallel): measured images/s
with 1 and N processes and the efficiency, and the expected efficiency on paper.

Measured: the engine's own distributed step (`dist.parts.Distributed`, gradients averaged by
DDP; one process: the plain `Stepper`) on batches already in memory, every layer of
EfficientNet-Lite0 training, the same global batch split over the processes, one thread per
process. On paper: the gradients' all-reduce per step (ring: each GPU sends and receives
2 (N-1)/N of them) against NVLink and PCIe bus bandwidth, and the step's compute time taken
from an assumed single-GPU rate (stated: no GPU was measured here).

    python tests/bench/scaling.py --processes 2 [--device cpu|cuda] [--image-size 64]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

# Bus bandwidth an NCCL all-reduce reaches (its "busbw", GB/s), per link kind: typical
# published nccl-tests figures, not measured here.
LINKS = {"NVLink, A100 (230 GB/s)": 230.0, "NVLink, H100 (370 GB/s)": 370.0,
         "PCIe 4.0 x16 (12 GB/s)": 12.0, "100 Gb/s between nodes (11 GB/s)": 11.0}
# Assumed single-GPU training rates (images/s, A100, bf16, batch 256 per GPU): assumptions
# for the estimate, to be replaced by bench_gpu.py's measured figures on a GPU machine.
ASSUMED_RATE = {"resnet50": 2600.0, "efficientnet_lite0": 3500.0}
PARAMS = {"resnet50": 23.5e6, "efficientnet_lite0": 3.4e6}  # with a 10-class head
PER_GPU_BATCH = 256


def on_paper(gpus: tuple[int, ...] = (2, 4, 8)) -> list[dict[str, object]]:
    """Expected efficiency per model, link and GPU count: the all-reduce of fp32 gradients
    (DDP reduces in the parameters' dtype) not overlapped with the backward pass (a lower
    bound) and fully overlapped (DDP's buckets start while the backward pass runs)."""
    rows = []
    for model, params in PARAMS.items():
        grads = params * 4
        compute = PER_GPU_BATCH / ASSUMED_RATE[model]
        for link, busbw in LINKS.items():
            for n in gpus:
                sent = 2 * (n - 1) / n * grads
                comm = sent / (busbw * 1e9)
                rows.append({
                    "model": model, "link": link, "gpus": n,
                    "allreduce_mb": round(sent / 1e6, 1), "comm_ms": round(1e3 * comm, 2),
                    "compute_ms": round(1e3 * compute, 1),
                    "efficiency_no_overlap": round(compute / (compute + comm), 3),
                    "efficiency_overlap": round(min(1.0, compute / max(compute, comm)), 3)})
    return rows


def measure(processes: int, device: str, image_size: int, batch: int, steps: int) -> float:
    """images/s of `processes` processes training one model (run under torchrun)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE)]),
           "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc-per-node={processes}", str(Path(__file__).resolve()), "--worker",
               "--device", device, "--image-size", str(image_size), "--batch-size", str(batch),
               "--steps", str(steps)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RATE ")]
    if done.returncode or not lines:
        raise RuntimeError(f"the {processes}-process run failed:\n{done.stderr[-3000:]}")
    return float(json.loads(lines[-1][5:])["images_per_s"])


def worker(device_name: str, image_size: int, batch: int, steps: int) -> None:
    import torch

    from transfer_gui.core.models.backbones import get_spec
    from transfer_gui.core.models.weights import build_model
    from transfer_gui.core.train.dist.parts import stepper_for
    from transfer_gui.core.train.ranks import Ranks
    from transfer_gui.core.train.recipe import make_scheduler
    from transfer_gui.core.train.steps import Optim, Stepper

    torch.set_num_threads(1)
    ranks = Ranks.from_env()
    device = ranks.device(device_name)
    ranks = ranks.start(device)
    torch.manual_seed(0)
    model = build_model(get_spec("efficientnet_lite0"), 10, True).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    scheduler = make_scheduler(optimizer, "constant", steps + 3)
    make = stepper_for(ranks) if ranks.many else Stepper
    stepper = make(model, lambda m, x: m(x), Optim(optimizer, scheduler), device)
    mine = len(ranks.shard.part(list(range(batch))))
    x = torch.randn(mine, 3, image_size, image_size, device=device)
    y = torch.randint(0, 10, (mine,), device=device)
    model.train()
    for _ in range(3):
        stepper.train(x, y)
    ranks.sum(torch.zeros(1))  # every process starts the clock together
    start = time.perf_counter()
    for _ in range(steps):
        stepper.train(x, y).tolist()
    ranks.sum(torch.zeros(1))
    seconds = time.perf_counter() - start
    if ranks.main:
        print("RATE " + json.dumps({"images_per_s": batch * steps / seconds}), flush=True)
    ranks.close()


def scaling(processes: int, device: str, image_size: int, batch: int, steps: int
            ) -> dict[str, float]:
    one = measure(1, device, image_size, batch, steps)
    many = measure(processes, device, image_size, batch, steps)
    return {"images_per_s_1": round(one, 1), f"images_per_s_{processes}": round(many, 1),
            "speed_up": round(many / one, 2), "efficiency": round(many / one / processes, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16, help="the global batch")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.device, args.image_size, args.batch_size, args.steps)
        return
    print(json.dumps(scaling(args.processes, args.device, args.image_size, args.batch_size,
                             args.steps)))


if __name__ == "__main__":
    main()


def scaling_report(processes: int, smoke: bool = False) -> dict[str, object]:
    """The scaling figure: GPUs measured where there are enough of them, else "not measured";
    the CPU (gloo) figure measured; the expected GPU efficiency on paper."""
    import torch

    size, batch, steps = (32, 4, 2) if smoke else (64, 16, 10)
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    figures: dict[str, object] = {}
    if gpus >= processes:
        figures["gpu"] = scaling(processes, "cuda", 224, 64 * processes, 20)
        print(f"  GPUs, 1 and {processes} processes: {figures['gpu']}")
    else:
        figures["gpu"] = "not measured"
        print(f"  GPUs: not measured ({gpus} CUDA GPU(s) here, {processes} needed)")
    figures["cpu_gloo"] = scaling(processes, "cpu", size, batch, steps)
    print(f"  CPU (gloo), 1 and {processes} processes, EfficientNet-Lite0 {size} px, global "
          f"batch {batch}: {figures['cpu_gloo']}")
    print("  expected on GPUs (on paper; assumed single-GPU rates, see scaling.py):")
    print(f"  {'model':20} {'link':34} {'GPUs':>4} {'all-reduce':>10} {'comm':>8} "
          f"{'compute':>8} {'no overlap':>10} {'overlap':>8}")
    for row in on_paper():
        print(f"  {row['model']:20} {row['link']:34} {row['gpus']:>4} "
              f"{row['allreduce_mb']:>7} MB {row['comm_ms']:>5} ms {row['compute_ms']:>5} ms "
              f"{row['efficiency_no_overlap']:>10.1%} {row['efficiency_overlap']:>8.1%}")
    return figures
