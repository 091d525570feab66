"""Launch scripts run, not only parse: the SLURM script submitted to a fake `sbatch` (with
`srun` and `scontrol` stubs that run its commands here, and a `torchrun` stub that trains on
the first node), the torchrun script started on two "nodes", and the app bundle's launch."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runhelpers import tiny_config
from tinynet import PLAIN, install_plain
from transfer_gui.core import Cluster, save_run_config, write_launch_script
from transfer_gui.core.io import bundle
from transfer_gui.core.models.backbones import get_spec
from transfer_gui.core.train.dist.scripts import local_launch_command

HERE = Path(__file__).parent
pytestmark = pytest.mark.skipif(not shutil.which("bash"), reason="the scripts are bash")

SBATCH = r"""#!/bin/bash
# sbatch, as a cluster runs a job: its log opened where '#SBATCH --output' says (a folder that
# does not exist: the job dies without a log), the allocation in SLURM_* variables
script="$1"
export SLURM_JOB_ID=${FAKE_JOB_ID:-4242}
export SLURM_NNODES=$(sed -n 's/^#SBATCH --nodes=//p' "$script")
export SLURM_JOB_NODELIST="node[1-$SLURM_NNODES]"
log=$(sed -n 's/^#SBATCH --output=//p' "$script" | tr -d '"')
log=${log//%j/$SLURM_JOB_ID}
echo "Submitted batch job $SLURM_JOB_ID"
[ -d "$(dirname "$log")" ] || exit 0
cd "$(dirname "$script")" && bash "$script" > "$log" 2>&1
"""
SCONTROL = r"""#!/bin/bash
[ "$1 $2" = "show hostnames" ] || exit 2
for i in $(seq 1 "$SLURM_NNODES"); do echo "node$i"; done
"""
SRUN = r"""#!/bin/bash
# one task per node, one after the other
for i in $(seq 0 $((SLURM_NNODES - 1))); do
    SLURM_NODEID=$i "$@" || exit $?
done
"""
TORCHRUN = r"""#!/bin/bash
# records what it was asked to start on this node; the first node trains (one process)
echo "node ${SLURM_NODEID:-$NODE} $*" >> "$FAKE_LOG"
while [ "$#" -gt 0 ] && [ "$1" != "-m" ]; do shift; done
shift 2  # -m transfer_gui
if [ "${SLURM_NODEID:-$NODE}" = 0 ]; then
    if [ -n "${FAKE_TRAIN:-}" ]; then
        exec "$PYTHON" "$TESTS/trainchild.py" "$TINY" "$@"
    fi
    mkdir -p "$RUN_DIR" && echo '{}' > "$RUN_DIR/run.json"  # rank 0 started the run
fi
"""


def stubs(folder: Path) -> dict[str, str]:
    folder.mkdir()
    for name, text in (("sbatch", SBATCH), ("scontrol", SCONTROL), ("srun", SRUN),
                       ("torchrun", TORCHRUN)):
        (folder / name).write_text(text)
        (folder / name).chmod(0o755)
    tiny = Path(get_spec("tiny_cnn").bundled()).parent
    return {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": os.pathsep.join([str(HERE.parent), str(HERE)]),
            "PYTHON": sys.executable, "TESTS": str(HERE), "TINY": str(tiny),
            "FAKE_LOG": str(folder / "torchrun.log")}


def started(env: dict[str, str]) -> list[tuple[str, str]]:
    """(node, train arguments) of each torchrun started."""
    lines = Path(env["FAKE_LOG"]).read_text().splitlines()
    return [(line.split()[1], line.split(" -m transfer_gui train ", 1)[1]) for line in lines]


def test_a_submitted_slurm_script_logs_trains_and_continues(shapes_dir, tmp_path) -> None:
    env = stubs(tmp_path / "bin")
    config = tmp_path / "setup" / "birds.config.json"
    config.parent.mkdir()
    save_run_config(config, tiny_config(shapes_dir, "full", epochs=2))
    run = tmp_path / "new runs" / "birds"  # its folder does not exist before the job
    script = write_launch_script("slurm", config, run, Cluster(nodes=2, gpus=4))
    text = script.read_text()
    assert "--cpus-per-task" not in text and "29500" not in text
    env["FAKE_TRAIN"] = "1"
    done = subprocess.run(["sbatch", str(script)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.stdout.strip() == "Submitted batch job 4242"
    log = config.parent / "transfer-gui-birds-4242.out"  # beside the script: it exists
    assert log.is_file(), done.stderr
    assert "Finished after 2 epochs" in log.read_text()
    assert bundle.read_meta(run)["status"] == "completed"
    first = started(env)
    assert [node for node, _ in first] == ["0", "1"]
    assert first[0][1] == first[1][1]  # every node was told the same
    assert f"--config {config} --out {run} --continue" in first[0][1]
    line = Path(env["FAKE_LOG"]).read_text().splitlines()[0]
    assert "--rdzv-endpoint=node1:24242" in line  # 20000 + the job id's last digits
    env["FAKE_JOB_ID"] = "4243"  # submitted again: the same command continues the run
    subprocess.run(["sbatch", str(script)], env=env, check=True, timeout=300)
    again = config.parent / "transfer-gui-birds-4243.out"
    assert "Finished after 2 epochs" in again.read_text()
    assert {args for _, args in started(env)} == {first[0][1]}
    assert "--rdzv-endpoint=node1:24243" in Path(env["FAKE_LOG"]).read_text()


def test_the_slurm_script_takes_cores_and_a_port_when_given(tmp_path) -> None:
    config = tmp_path / "c.json"
    config.write_text("{}")
    text = write_launch_script("slurm", config, tmp_path / "run",
                               Cluster(nodes=1, gpus=2, cpus=12, port=31000)).read_text()
    assert "#SBATCH --cpus-per-task=12" in text and "PORT=31000 " in text


def test_every_node_of_the_torchrun_script_is_told_the_same(tmp_path) -> None:
    """Node 0 starts first and its rank 0 writes run.json before node 1's script runs: node 1
    must still pass what node 0 passed (the engine decides, as the processes start)."""
    env = stubs(tmp_path / "bin")
    config = tmp_path / "c.json"
    config.write_text("{}")
    run = tmp_path / "runs" / "big"
    script = write_launch_script("torchrun", config, run, Cluster(nodes=2, gpus=2))
    env.update(HEAD="node1", RUN_DIR=str(run), TORCHRUN="torchrun")
    for node in ("0", "1"):
        subprocess.run(["bash", str(script)], env={**env, "NODE": node}, check=True,
                       timeout=60)
    (_, first), (_, second) = started(env)
    assert first == second
    assert "29500" not in script.read_text()


def test_the_app_bundle_runs_the_launcher_itself(tmp_path) -> None:
    app = "/opt/transfer-gui/transfer-gui"
    command = local_launch_command(2, "c.json", "run", python=app, bundle=True)
    assert command == [app, "torchrun", "--standalone", "--nproc-per-node=2", "--no-python",
                       app, "train", "--config", "c.json", "--out", "run", "--continue"]


@pytest.mark.slow
def test_the_bundles_launch_trains_on_two_processes(tmp_path) -> None:
    """A stand-in for the bundle's executable (the command line, with the test network)
    starts torchrun through `transfer-gui torchrun`, which starts it again per process."""
    from imagegen import make_dataset

    data = make_dataset(tmp_path / "data", per_class=6, size=32)
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    install_plain(tiny)
    config = tmp_path / "c.json"
    run_config = tiny_config(data, "full", epochs=1, batch_size=6, augment="none")
    run_config = run_config.__class__(run_config.data, run_config.model.__class__(
        backbone=PLAIN, strategy="full"), run_config.train)
    save_run_config(config, run_config)
    app = tmp_path / "transfer-gui"
    app.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{HERE / "ddpchild.py"}" "{tiny}" "$@"\n')
    app.chmod(0o755)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent), str(HERE)])}
    command = local_launch_command(2, config, tmp_path / "run", python=str(app), bundle=True)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=480)
    assert done.returncode == 0, done.stderr[-3000:]
    meta = bundle.read_meta(tmp_path / "run")
    assert meta["status"] == "completed" and meta["processes"] == 2
    assert meta["device"] == "CPU (" + str(os.cpu_count()) + " cores), 2 processes"
    assert "training on CPU (" in done.stdout and "cores), 2 processes:" in done.stdout
