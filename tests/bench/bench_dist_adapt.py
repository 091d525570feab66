"""Domain adaptation on 1 and on N processes (torchrun, gloo on the CPU): the same figures?

    python tests/bench/bench_dist_adapt.py [--processes 2] [--modes align,adabn+align]
        [--per-class 16] [--epochs 1] [--backbone efficientnet_lite0] [--shift grayscale]

Source and target as in `bench_adaptation.py` (photo-like images, 4 classes, 64 px; the
target shifted, its class sub-folders giving a target accuracy). Each mode trains a linear
probe and adapts it, once as one process and once under torchrun with N processes, each run
with a cache of its own (nothing computed by one run is read by the other). The table gives
each run's wall time (starting torch included) and, between the two runs, the largest absolute
difference of the saved weights, of the BatchNorm running statistics in them, and of the
alignment's statistics, and the target accuracy before and after adaptation of each.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))

from bench_adaptation import make_folder  # noqa: E402
from common import load_average, machine  # noqa: E402


def train(processes: int, source: Path, target: Path, out: Path, mode: str,
          args: argparse.Namespace) -> float:
    """Wall seconds of one run (a fresh cache; `processes` 1: torchrun of one process)."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc-per-node={processes}", "-m", "transfer_gui", "train", str(source),
               "--out", str(out), "--target-unlabeled", str(target), "--adapt", mode,
               "--backbone", args.backbone, "--strategy", "linear-probe", "--augment", "none",
               "--epochs", str(args.epochs), "--batch-size", "16", "--seed", "1"]
    env = {**os.environ, "TRANSFER_GUI_CACHE_DIR": tempfile.mkdtemp(prefix="dist_adapt_"),
           "OMP_NUM_THREADS": "1", "PYTHONPATH": str(HERE.parents[1])}
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    return time.perf_counter() - started


def largest(a: dict, b: dict, keep=lambda name: True) -> float | None:
    names = [k for k in a if keep(k)]
    if not names:
        return None
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in names)


def compare(one: Path, many: Path) -> dict[str, object]:
    from safetensors.torch import load_file

    from transfer_gui.core.io import bundle

    weights = [load_file(str(r / bundle.WEIGHTS)) for r in (one, many)]
    notes = [bundle.read_meta(r)["adaptation"] for r in (one, many)]
    alignment = [r / "alignment.safetensors" for r in (one, many)]
    return {
        "weights": largest(*weights),
        "batchnorm": largest(*weights, keep=lambda k: "running_" in k),
        "alignment": largest(*(load_file(str(p)) for p in alignment))
        if alignment[0].is_file() else None,
        "before": [n["target_acc_before"] for n in notes],
        "after": [n["target_acc_after"] for n in notes],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--modes", default="align,adabn+align")
    parser.add_argument("--per-class", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--backbone", default="efficientnet_lite0")
    parser.add_argument("--shift", default="grayscale")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_dist_adapt_"))
    source = make_folder(work / "source", args.per_class, 1, None)
    target = make_folder(work / "target", args.per_class, 1001, args.shift)
    print(f"{machine()}; load average {load_average()}; {args.backbone}, "
          f"{4 * args.per_class} source and {4 * args.per_class} target images "
          f"({args.shift}), {args.epochs} epoch(s)")
    print("| mode | 1 process (s) | N processes (s) | weights | BatchNorm | alignment | "
          "target acc before / after (1; N) |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for mode in args.modes.split(","):
        runs = {n: work / f"{mode}-{n}" for n in (1, args.processes)}
        seconds = {n: train(n, source, target, out, mode, args) for n, out in runs.items()}
        found = compare(runs[1], runs[args.processes])

        def fmt(x: object) -> str:
            return "-" if x is None else f"{x:.1e}"

        accs = "; ".join(f"{b:.3f} / {a:.3f}" for b, a in
                         zip(found["before"], found["after"], strict=True))  # type: ignore
        print(f"| {mode} | {seconds[1]:.1f} | {seconds[args.processes]:.1f} | "
              f"{fmt(found['weights'])} | {fmt(found['batchnorm'])} | "
              f"{fmt(found['alignment'])} | {accs} |")
    print(json.dumps({"processes": args.processes, "work": str(work)}))


if __name__ == "__main__":
    main()
