"""Launching a run on several processes: the `torchrun` command, and scripts for a cluster.

Every launch runs `transfer-gui train` under `torchrun` (`torch.distributed.run`), PyTorch's own
launcher, which starts one process per GPU on each computer and lets the computers find each
other (rendezvous). A script does not copy the run's settings: it names the run configuration
file (`train --config`), so it launches exactly what was set up in the window. Run again after
a stop, a script continues the run folder (`--resume`) instead of starting over.

Nothing here imports torch: the window writes these scripts without loading it.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from ... import atomic

LAUNCH_SCRIPTS = ("slurm", "torchrun")
PORT = 29500  # the rendezvous port on the first node


@dataclass(frozen=True)
class Cluster:
    """Where a cluster run goes: `nodes` computers of `gpus` GPUs each, at most `hours` long,
    in the SLURM `partition` (empty: the cluster's default)."""

    nodes: int = 1
    gpus: int = 1
    hours: float = 24.0
    partition: str = ""
    cpus: int = 8  # CPU cores per GPU (image decoding)

    def time_limit(self) -> str:
        minutes = max(int(round(self.hours * 60)), 1)
        return f"{minutes // 60:02d}:{minutes % 60:02d}:00"


def local_launch_command(processes: int, config: str | Path, out: str | Path,
                  python: str = sys.executable) -> list[str]:
    """The command that trains `config` into `out` on `processes` processes of this computer
    (one per GPU; gloo between CPU processes where there is no GPU)."""
    return [python, "-m", "torch.distributed.run", "--standalone",
            f"--nproc-per-node={processes}", "-m", "transfer_gui", "train",
            *train_args(config, out)]


def train_args(config: str | Path, out: str | Path) -> list[str]:
    """`train`'s arguments: resume the run folder if it holds a run, else start it."""
    if (Path(out) / "run.json").is_file():
        return ["--resume", str(out)]
    return ["--config", str(config), "--out", str(out)]


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
    text = (slurm_script if kind == "slurm" else torchrun_script)(
        Path(config).resolve(), Path(out).resolve(), cluster)
    atomic.write_text(target, text)
    os.chmod(target, 0o755)
    return target


def _run_lines(config: Path, out: Path) -> list[str]:
    return [
        f"CONFIG={shlex.quote(str(config))}",
        f"RUN={shlex.quote(str(out))}",
        'if [ -f "$RUN/run.json" ]; then',
        '    TRAIN=(--resume "$RUN")  # run again after a stop: the run continues',
        "else",
        '    TRAIN=(--config "$CONFIG" --out "$RUN")',
        "fi",
    ]


def _torchrun(nodes: str, gpus: str, endpoint: str, run_id: str) -> str:
    return (f'"${{TORCHRUN:-torchrun}}" --nnodes={nodes} --nproc-per-node={gpus} '
            f'--rdzv-id={run_id} --rdzv-backend=c10d --rdzv-endpoint={endpoint} '
            '-m transfer_gui train "${TRAIN[@]}"')


def slurm_script(config: Path, out: Path, cluster: Cluster) -> str:
    """An sbatch file: one task per node, each a torchrun of `cluster.gpus` processes, meeting
    at the first node of the allocation."""
    name = f"transfer-gui-{out.name}"
    lines = [
        "#!/bin/bash",
        f"#SBATCH --job-name={name}",
        f"#SBATCH --nodes={cluster.nodes}",
        "#SBATCH --ntasks-per-node=1",
        f"#SBATCH --gpus-per-node={cluster.gpus}",
        f"#SBATCH --cpus-per-task={cluster.cpus * cluster.gpus}",
        f"#SBATCH --time={cluster.time_limit()}",
        *([f"#SBATCH --partition={cluster.partition}"] if cluster.partition else []),
        "#SBATCH --signal=TERM@120  # two minutes before the limit: stop cleanly, resumable",
        f"#SBATCH --output={out.parent}/{name}-%j.out",
        "",
        f"# Train {config.name} into {out.name} on {cluster.nodes} node(s) x {cluster.gpus} "
        "GPU(s).",
        "# Submit with: sbatch THIS_FILE (submit it again to continue a stopped run).",
        "set -euo pipefail",
        *_run_lines(config, out),
        'HEAD_NODE=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
        "srun " + _torchrun('"$SLURM_NNODES"', str(cluster.gpus), f'"$HEAD_NODE:{PORT}"',
                            '"$SLURM_JOB_ID"'),
        "",
    ]
    return "\n".join(lines)


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
        f"PORT=${{PORT:-{PORT}}}",
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
