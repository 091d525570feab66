"""Launching a run on several processes: the `torchrun` command, and scripts for a cluster.

Every launch runs `transfer-gui train` under `torchrun` (`torch.distributed.run`), PyTorch's own
launcher, which starts one process per GPU on each computer and lets the computers find each
other (rendezvous). A script does not copy the run's settings: it names the run configuration
file (`train --config`), so it launches exactly what was set up in the window. Run again after
a stop, a script continues the run folder instead of starting over: every node passes the same
`train --config C --out RUN --continue`, and the engine decides, once, at the start of each
process, which is before any process can write the folder (rank 0 writes run.json only after
all of them have met), so no node can see another's new run and decide otherwise.

The SLURM script logs into the folder it is written in (it exists: SLURM creates the log file
but not its folder, and a job whose log cannot be opened dies without a word); the rendezvous
port comes from the job's id (two jobs on one node do not collide) unless one is given; the
CPU cores per task are asked for only when given (else the cluster's default, and each process
sizes its threads to the cores it gets: `threads.plan_threads`).

The app bundle (PyInstaller, `sys.frozen`) has no `python -m`: its own executable runs the
launcher (`transfer-gui torchrun ...`, see `cli.main`), which starts the executable again for
each process (`--no-python`).

Nothing here imports torch: the window writes these scripts without loading it.
"""

from __future__ import annotations

import os
import shlex
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

from ... import atomic

LAUNCH_SCRIPTS = ("slurm", "torchrun")
PORTS = (20000, 20000)  # a derived rendezvous port: first, how many (20000-39999)
LAUNCHER = "torchrun"  # the app's own command that runs torch.distributed.run (a bundle)


@dataclass(frozen=True)
class Cluster:
    """Where a cluster run goes: `nodes` computers of `gpus` GPUs each, at most `hours` long,
    in the SLURM `partition` (empty: the cluster's default)."""

    nodes: int = 1
    gpus: int = 1
    hours: float = 24.0
    partition: str = ""
    cpus: int = 0  # CPU cores per node to ask for (0: the cluster's default)
    port: int = 0  # the rendezvous port on the first node (0: derived)

    def time_limit(self) -> str:
        minutes = max(int(round(self.hours * 60)), 1)
        return f"{minutes // 60:02d}:{minutes % 60:02d}:00"


def frozen() -> bool:
    """Whether this is the app bundle (PyInstaller): no Python to run `-m` with."""
    return bool(getattr(sys, "frozen", False))


def local_launch_command(processes: int, config: str | Path, out: str | Path,
                         python: str = sys.executable, bundle: bool | None = None
                         ) -> list[str]:
    """The command that trains `config` into `out` on `processes` processes of this computer
    (one per GPU; gloo between CPU processes where there is no GPU). In the app bundle
    (`bundle`, default: when frozen) `python` is the app's executable: it runs the launcher
    itself, and the launcher starts it again for each process."""
    launch = ["--standalone", f"--nproc-per-node={processes}"]
    if frozen() if bundle is None else bundle:
        return [python, LAUNCHER, *launch, "--no-python", python, "train",
                *train_args(config, out)]
    return [python, "-m", "torch.distributed.run", *launch, "-m", "transfer_gui", "train",
            *train_args(config, out)]


def train_args(config: str | Path, out: str | Path) -> list[str]:
    """`train`'s arguments: start the run folder, or continue it if it already holds a run
    (decided by each process as it starts: `--continue`)."""
    return ["--config", str(config), "--out", str(out), "--continue"]


def derived_port(key: str) -> int:
    """A rendezvous port from `key` (the same on every node)."""
    return PORTS[0] + zlib.crc32(key.encode()) % PORTS[1]


def script_path(kind: str, config: str | Path) -> Path:
    """Where the script for `config` is written: beside it, named after it."""
    config = Path(config)
    return config.with_name(f"{config.stem}.{kind}.sh")


def write_launch_script(kind: str, config: str | Path, out: str | Path, cluster: Cluster,
                 path: str | Path | None = None) -> Path:
    """Write the `kind` ("slurm" or "torchrun") launch script for `config` and return where."""
    if kind not in LAUNCH_SCRIPTS:
        raise ValueError(f"no {kind!r} script: choose one of {', '.join(LAUNCH_SCRIPTS)}")
    target = Path(path) if path else script_path(kind, config)
    config, out = Path(config).resolve(), Path(out).resolve()
    if kind == "slurm":
        text = slurm_script(config, out, cluster, target.resolve().parent)
    else:
        text = torchrun_script(config, out, cluster)
    atomic.write_text(target, text)
    os.chmod(target, 0o755)
    return target


def _run_lines(config: Path, out: Path) -> list[str]:
    return [
        f"CONFIG={shlex.quote(str(config))}",
        f"RUN={shlex.quote(str(out))}",
        "# the same on every node: each process continues RUN if it holds a run, else starts it",
        'TRAIN=(--config "$CONFIG" --out "$RUN" --continue)',
    ]


def _torchrun(nodes: str, gpus: str, endpoint: str, run_id: str) -> str:
    return (f'"${{TORCHRUN:-torchrun}}" --nnodes={nodes} --nproc-per-node={gpus} '
            f'--rdzv-id={run_id} --rdzv-backend=c10d --rdzv-endpoint={endpoint} '
            '-m transfer_gui train "${TRAIN[@]}"')


def slurm_script(config: Path, out: Path, cluster: Cluster, logs: Path | None = None) -> str:
    """An sbatch file: one task per node, each a torchrun of `cluster.gpus` processes, meeting
    at the first node of the allocation. Its log goes to `logs` (the folder it is written
    in: one that exists)."""
    name = f"transfer-gui-{out.name}"
    logs = logs or config.parent
    port = (str(cluster.port) if cluster.port else
            f"$(( {PORTS[0]} + SLURM_JOB_ID % {PORTS[1]} ))")
    lines = [
        "#!/bin/bash",
        f"#SBATCH --job-name={name}",
        f"#SBATCH --nodes={cluster.nodes}",
        "#SBATCH --ntasks-per-node=1",
        f"#SBATCH --gpus-per-node={cluster.gpus}",
        *([f"#SBATCH --cpus-per-task={cluster.cpus}"] if cluster.cpus else []),
        f"#SBATCH --time={cluster.time_limit()}",
        *([f"#SBATCH --partition={cluster.partition}"] if cluster.partition else []),
        "#SBATCH --signal=TERM@120  # two minutes before the limit: stop cleanly, resumable",
        f"#SBATCH --output={_sbatch_path(logs / f'{name}-%j.out')}",
        "",
        f"# Train {config.name} into {out.name} on {cluster.nodes} node(s) x {cluster.gpus} "
        "GPU(s).",
        "# Submit with: sbatch THIS_FILE (submit it again to continue a stopped run).",
        "set -euo pipefail",
        *_run_lines(config, out),
        'HEAD_NODE=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
        f"PORT={port}  # the rendezvous port on the first node",
        "srun " + _torchrun('"$SLURM_NNODES"', str(cluster.gpus), '"$HEAD_NODE:$PORT"',
                            '"$SLURM_JOB_ID"'),
        "",
    ]
    return "\n".join(lines)


def _sbatch_path(path: Path) -> str:
    """`path` for an #SBATCH line, which the shell never reads: quoted when it has spaces."""
    text = str(path)
    return f'"{text}"' if any(c.isspace() for c in text) else text


def torchrun_script(config: Path, out: Path, cluster: Cluster) -> str:
    """A script to start by hand on every node (without a batch system)."""
    lines = [
        "#!/bin/bash",
        f"# Train {config.name} into {out.name} on {cluster.nodes} node(s) x {cluster.gpus} "
        "GPU(s).",
        "# Start it on every node at about the same time, with HEAD set to the first node's",
        "# address (the same on all), e.g.:  HEAD=node01 bash THIS_FILE",
        "# Every node needs the data, the configuration and the run folder at these paths",
        "# (a shared disk). Run it again after a stop: the run continues.",
        "set -euo pipefail",
        f"NNODES=${{NNODES:-{cluster.nodes}}}",
        f"GPUS=${{GPUS:-{cluster.gpus}}}",
        'HEAD=${HEAD:?"set HEAD to the address of the first node"}',
        f"PORT=${{PORT:-{cluster.port or derived_port(str(out))}}}",
        *_run_lines(config, out),
        _torchrun('"$NNODES"', '"$GPUS"', '"$HEAD:$PORT"', f"transfer-gui-{out.name}"),
        "",
    ]
    return "\n".join(lines)


def launch_next_step(kind: str, path: Path, cluster: Cluster) -> str:
    """What to do with a written script, in words."""
    if kind == "slurm":
        return (f"Submit it on the cluster's login node with:  sbatch {path}\n"
                f"It trains on {cluster.nodes} node(s) x {cluster.gpus} GPU(s); the data, the "
                "configuration and the run folder must be on a disk every node sees. "
                "Submit it again to continue a stopped run.")
    return (f"Start it on each of the {cluster.nodes} node(s) with:  HEAD=FIRST_NODE bash {path}\n"
            "The data, the configuration and the run folder must be on a disk every node sees.")


def visible_gpus() -> int:
    """How many CUDA GPUs this process sees (loads torch)."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0
