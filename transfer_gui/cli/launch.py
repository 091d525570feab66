"""`transfer-gui launch`: one run on several processes, here or on a cluster.

    launch RUN_CONFIG.json --gpus N --out RUN      torchrun on this computer, as a child process
    launch RUN_CONFIG.json --script slurm|torchrun  a launch script for a cluster, and how to use it
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..core import LAUNCHER  # `transfer-gui torchrun ...`: how the app bundle runs torchrun
from .exits import EXIT_CANCELLED, EXIT_ERROR, EXIT_OK
from .options import UsageError

__all__ = ["LAUNCHER", "add_launch_parser", "cmd_launch", "launcher"]


def add_launch_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "launch", help="train one run on several GPUs or computers (torchrun)",
        description="Train the run configuration CONFIG (a file exported from the window, or a "
                    "run folder's run.json) on several processes with torchrun: --gpus N here, "
                    "or --script to write a launch script for a cluster. A run folder that "
                    "already holds the run is continued (resumed), not started again.")
    p.add_argument("config", metavar="RUN_CONFIG.json")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--gpus", type=int, metavar="N",
                     help="train here on N processes, one per GPU (on a computer without "
                          "GPUs: N CPU processes, gloo)")
    how.add_argument("--script", choices=("slurm", "torchrun"),
                     help="write a launch script: an sbatch file for SLURM, or a torchrun "
                          "script to start on every node")
    p.add_argument("--out", metavar="RUN",
                   help="the run folder (with --script: default a folder named after the "
                        "configuration, beside it)")
    p.add_argument("--nodes", type=int, default=1, help="--script: computers (default 1)")
    p.add_argument("--gpus-per-node", type=int, default=4, metavar="G",
                   help="--script: GPUs of each computer (default 4)")
    p.add_argument("--hours", type=float, default=24.0,
                   help="--script: the job's time limit in hours (default 24)")
    p.add_argument("--partition", default="", help="--script: the SLURM partition")
    p.add_argument("--cpus-per-task", type=int, default=0, metavar="N",
                   help="--script slurm: CPU cores to ask for on each node (default: the "
                        "cluster's default; each process sizes its threads to what it gets)")
    p.add_argument("--port", type=int, default=0,
                   help="--script: the rendezvous port on the first node (default: derived "
                        "from the SLURM job id, or from the run folder's name)")
    p.add_argument("--script-out", metavar="FILE",
                   help="--script: where to write it (default beside the configuration)")
    p.add_argument("--json", action="store_true",
                   help="the written script and the next step (--script), or the run folder "
                        "and the exit status (--gpus), as JSON")


def cmd_launch(args: argparse.Namespace) -> int:
    config = Path(args.config)
    if not config.is_file():
        raise UsageError(f"{config}: no such run configuration file")
    if args.script:
        return _write(args, config)
    return _run_here(args, config)


def _write(args: argparse.Namespace, config: Path) -> int:
    from ..core import Cluster, launch_next_step, write_launch_script

    if args.nodes < 1 or args.gpus_per_node < 1 or args.hours <= 0:
        raise UsageError("--nodes and --gpus-per-node take 1 or more, --hours more than 0")
    if args.cpus_per_task < 0 or not 0 <= args.port < 65536:
        raise UsageError("--cpus-per-task takes 0 or more, --port 1 to 65535 (0: derived)")
    out = Path(args.out) if args.out else config.with_name(config.stem)
    cluster = Cluster(args.nodes, args.gpus_per_node, args.hours, args.partition,
                      args.cpus_per_task, args.port)
    path = write_launch_script(args.script, config, out, cluster, args.script_out)
    step = launch_next_step(args.script, path, cluster)
    if args.json:
        from .console import print_json

        print_json({"script": str(path), "config": str(config), "run": str(out),
                    "next_step": step})
        return EXIT_OK
    print(f"wrote {path}")
    print(step)
    return EXIT_OK


def _run_here(args: argparse.Namespace, config: Path) -> int:
    from ..core import local_launch_command, visible_gpus

    if not args.out:
        raise UsageError("launch --gpus needs --out RUN")
    n, gpus = args.gpus, visible_gpus()
    if n < 1:
        raise UsageError("--gpus takes 1 or more")
    if gpus and n > gpus:
        raise UsageError(f"--gpus {n}: this computer has {gpus} GPU(s)")
    where = f"{n} GPUs (NCCL)" if gpus else f"{n} CPU processes (gloo: no GPU here)"
    command = local_launch_command(n, config, args.out)
    print(f"training {config} into {args.out} on {where}")
    print("  " + " ".join(command), flush=True)
    code = _child(command)
    if args.json:
        from .console import print_json

        print_json({"run": str(args.out), "command": command, "exit_status": code})
    if code == 0:
        return EXIT_OK
    again = f"transfer-gui launch {config} --gpus {n} --out {args.out}"
    if code in (EXIT_CANCELLED, -signal.SIGINT, -signal.SIGTERM) or _stopped[0]:
        print(f"stopped; continue the run with: {again}", file=sys.stderr)
        return EXIT_CANCELLED
    print(f"error: the run failed (exit status {code}; the failing process's message is "
          f"above). If {args.out} holds a finished epoch, continue it with: {again}",
          file=sys.stderr)
    return EXIT_ERROR


_stopped = [False]


def launcher(argv: list[str]) -> int:
    """`transfer-gui torchrun ARGS`: PyTorch's launcher (`torch.distributed.run`) with ARGS. The
    app bundle has no Python to run `-m torch.distributed.run` with, so its own executable runs
    the launcher, and the launcher starts the executable for each process (`--no-python`)."""
    from torch.distributed.run import main as run

    run(argv)
    return EXIT_OK


def _child(command: list[str]) -> int:
    """Run `command` in its own session; Ctrl-C and SIGTERM here are handed to it once (the
    launcher passes them on to every process, which stop at the same batch)."""
    child = subprocess.Popen(command, start_new_session=True)

    def forward(sig: int, _frame: Any) -> None:
        _stopped[0] = True
        child.send_signal(sig)

    before = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return child.wait()
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
