"""One run on several processes (torchrun, gloo on the CPU): sharding, the processes kept in
step, one writer, a dead process, and the launch scripts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from imagegen import make_dataset
from runhelpers import tiny_config
from tinynet import PLAIN, install_plain
from transfer_gui.cli import main
from transfer_gui.core import Cluster, Trainer, write_launch_script
from transfer_gui.core.data.shard import Shard
from transfer_gui.core.events import Callback, Message
from transfer_gui.core.io import bundle

HERE = Path(__file__).parent
TOLERANCE = 1e-6  # 1 vs 2 processes: float sums in another order (measured: about 1.5e-8)


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 classes of 8 images, 32 px: 18 training images, 3 steps of 6 an epoch."""
    return make_dataset(tmp_path_factory.mktemp("ddp_data"), per_class=8, size=32)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ddp_tiny")
    install_plain(folder)
    return folder


def plain_args(data: Path, out: Path, epochs: int) -> list[str]:
    """No BatchNorm (tiny_plain), no augmentation, no probe: every process computes exactly
    what one process computes on its part of the batch."""
    return ["train", str(data), "--out", str(out), "--backbone", PLAIN, "--strategy", "full",
            "--no-probe-first", "--augment", "none", "--epochs", str(epochs),
            "--batch-size", "6", "--lr", "0.01", "--no-decode-cache"]


def torchrun(tiny: Path, args: list[str], processes: int = 2, **env: str
             ) -> subprocess.CompletedProcess:
    environ = {**os.environ, **env,
               "PYTHONPATH": os.pathsep.join([str(HERE.parent), str(HERE)])}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc-per-node={processes}", str(HERE / "ddpchild.py"), str(tiny), *args]
    return subprocess.run(command, env=environ, capture_output=True, text=True, timeout=480)


class Launch:
    """One torchrun launch that ran several jobs one after the other (`ddpchild.py --jobs`):
    each job's exit code and what rank 0 printed while it ran."""

    def __init__(self, done: subprocess.CompletedProcess, folder: Path) -> None:
        self.done, self.folder = done, folder
        self.codes: dict[str, int] = {}
        self.said: dict[str, str] = {}
        name = ""
        for line in done.stdout.splitlines():
            if line.startswith("=== job "):
                name = line.removeprefix("=== job ")
                self.said[name] = ""
            elif line.startswith("=== exit "):
                job, code = line.removeprefix("=== exit ").rsplit(" ", 1)
                self.codes[job] = int(code)
            elif name:
                self.said[name] += line + "\n"

    def check(self, job: str) -> str:
        """`job`'s output, once it is known to have succeeded."""
        assert self.codes.get(job) == 0, (self.codes, self.done.stderr[-3000:])
        return self.said[job]


def launch_jobs(tiny: Path, folder: Path, jobs: list[dict]) -> Launch:
    (folder / "jobs.json").write_text(json.dumps(jobs))
    for job in jobs:
        if "DDP_DUMP" in job.get("env", {}):
            Path(job["env"]["DDP_DUMP"]).mkdir(parents=True)
    return Launch(torchrun(tiny, ["--jobs", str(folder / "jobs.json")]), folder)


def checkpoint_model(run: Path) -> dict[str, torch.Tensor]:
    return bundle.load_checkpoint(run)["model"]


def largest_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)


def test_each_process_reads_its_part_of_every_batch_once() -> None:
    batches = [[5, 1, 7, 3, 0, 2], [4, 6, 8, 9, 10, 11], [12, 13]]
    parts = [Shard(r, 2).batches(batches) for r in range(2)]
    assert parts[0] == [[5, 1, 7], [4, 6, 8], [12]]
    assert parts[1] == [[3, 0, 2], [9, 10, 11], [13]]
    three = [Shard(r, 3).batches(batches) for r in range(3)]
    assert all(len(p) == 2 for p in three)  # a last batch of 2 joins the one before it
    seen = sorted(i for p in three for b in p for i in b)
    assert seen == sorted(i for b in batches for i in b)
    val = [i for r in range(3) for b in Shard(r, 3).sequential(10, 2) for i in b]
    assert val == list(range(10))  # validation: each image once, no padding


@pytest.mark.slow  # the shared torchrun launch
def test_two_processes_train_the_weights_one_process_trains(
        small_dir: Path, tiny_dir: Path, launched: Launch, tmp_path: Path) -> None:
    said = launched.check("plain")
    dump, two = launched.folder / "plain-ranks", launched.folder / "plain"
    ranks = [torch.load(dump / f"rank{r}.pt") for r in range(2)]
    assert largest_difference(*ranks) == 0.0  # DDP: the same weights on every process
    images = [json.loads((dump / f"rank{r}.json").read_text())["images"] for r in range(2)]
    assert images == [18, 18]  # 2 epochs of 18: each process trained on half of each batch
    meta = bundle.read_meta(two)
    assert meta["status"] == "completed" and meta["processes"] == 2
    assert meta["split"] == {"train": 18, "val": 6}  # all images, though each process read half
    assert (two / "events.jsonl").is_file() and (two / "model.safetensors").is_file()
    assert said.count("epoch 2/2") == 1  # rank 0 alone speaks
    assert launched.done.stdout.count("=== job plain") == 1  # rank 1 says nothing at all

    one = tmp_path / "one"
    config = tiny_config(small_dir, "full", epochs=2, batch_size=6, augment="none",
                         probe_first=False, lr=0.01, cache_decoded=False)
    config = replace(config, model=replace(config.model, backbone=PLAIN))
    Trainer().fit(config, one)
    pretrained = torch.load(tiny_dir / "tiny_plain.pth")["stem.0.weight"]
    moved = float((checkpoint_model(one)["body.stem.0.weight"] - pretrained).abs().max())
    difference = largest_difference(checkpoint_model(one), checkpoint_model(two))
    assert difference < TOLERANCE, difference
    assert moved > 100 * TOLERANCE  # the weights really trained
    history = [bundle.read_meta(r)["history"] for r in (one, two)]
    for a, b in zip(*history, strict=True):
        assert a["val_acc"] == b["val_acc"]
        assert a["val_loss"] == pytest.approx(b["val_loss"], abs=1e-5)
        assert a["train_loss"] == pytest.approx(b["train_loss"], abs=1e-5)


class Said(Callback):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def on_message(self, event: Message) -> None:
        self.lines.append(event.text)


@pytest.mark.slow
def test_a_dead_process_fails_the_job_and_the_run_resumes(
        small_dir: Path, tiny_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    done = torchrun(tiny_dir, plain_args(small_dir, run, 3), DDP_DIE="1:5")  # epoch 2
    assert done.returncode != 0
    meta = bundle.read_meta(run)
    assert meta["status"] in ("failed", "running")  # killed at once, it may not have said so
    if meta["status"] == "failed":
        assert "another process of this run (2 processes) stopped" in meta["message"]
        assert "--resume" in meta["message"]
    assert meta["checkpoint_epoch"] == 1
    said = Said()
    result = Trainer().fit(None, run, [said], resume=True)  # on one process now
    assert result.status == "completed" and len(result.history) == 3
    assert any("trained on 2 processes and continues on 1" in line for line in said.lines)


def test_the_slurm_script_names_the_config_and_holds_the_torchrun_line(tmp_path: Path) -> None:
    config = tmp_path / "my config.json"
    config.write_text("{}")
    path = write_launch_script("slurm", config, tmp_path / "runs" / "big",
                               Cluster(nodes=2, gpus=4, hours=1.5, partition="gpu"))
    text = path.read_text()
    assert path == tmp_path / "my config.slurm.sh" and os.access(path, os.X_OK)
    if shutil.which("bash"):
        subprocess.run(["bash", "-n", str(path)], check=True)
    for line in ("#SBATCH --nodes=2", "#SBATCH --gpus-per-node=4", "#SBATCH --time=01:30:00",
                 "#SBATCH --partition=gpu", "#SBATCH --ntasks-per-node=1"):
        assert line in text
    assert f"CONFIG='{config.resolve()}'" in text
    launch = [line for line in text.splitlines() if "torchrun" in line and "srun" in line]
    assert len(launch) == 1
    for part in ("--nnodes=\"$SLURM_NNODES\"", "--nproc-per-node=4", "--rdzv-backend=c10d",
                 "--rdzv-endpoint=\"$HEAD_NODE:$PORT\"", "-m transfer_gui train"):
        assert part in launch[0]


def test_launch_writes_a_script_and_says_how_to_submit_it(tmp_path: Path, capsys) -> None:
    config = tmp_path / "run-config.json"
    config.write_text("{}")
    assert main(["launch", str(config), "--script", "torchrun", "--nodes", "3"]) == 0
    said = capsys.readouterr().out
    script = tmp_path / "run-config.torchrun.sh"
    assert f"wrote {script}" in said and f"HEAD=FIRST_NODE bash {script}" in said
    assert "NNODES=${NNODES:-3}" in script.read_text()
    with pytest.raises(SystemExit):
        main(["launch", str(tmp_path / "missing.json"), "--script", "slurm"])
    assert "no such run configuration file" in capsys.readouterr().err


@pytest.mark.slow
def test_ctrl_c_to_the_launcher_stops_every_process_and_the_run_resumes(
        small_dir: Path, tiny_dir: Path, tmp_path: Path) -> None:
    import signal
    import time

    run = tmp_path / "run"
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent), str(HERE)])}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node=2", str(HERE / "ddpchild.py"), str(tiny_dir),
               *plain_args(small_dir, run, 12)]
    launcher = subprocess.Popen(command, env=environ, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    assert launcher.stdout is not None
    for line in launcher.stdout:
        if "epoch 2/12" in line:
            break
    asked = time.monotonic()
    launcher.send_signal(signal.SIGINT)
    launcher.communicate(timeout=60)
    assert time.monotonic() - asked < 30  # torchrun's grace period: every process ended itself
    meta = bundle.read_meta(run)
    assert meta["status"] == "cancelled" and 2 <= meta["epochs_done"] < 12
    done = torchrun(tiny_dir, ["train", "--resume", str(run)])
    assert done.returncode == 0, done.stderr[-3000:]
    assert "continues on" not in done.stdout + done.stderr  # the same number of processes
    meta = bundle.read_meta(run)
    assert meta["status"] == "completed" and meta["epochs_done"] == 12 and meta["resumed"] == 1


@pytest.mark.slow  # the shared torchrun launch
def test_joint_training_shards_both_folders_on_two_processes(launched: Launch) -> None:
    launched.check("joint")
    dump, run = launched.folder / "joint-ranks", launched.folder / "joint"
    ranks = [torch.load(dump / f"rank{r}.pt") for r in range(2)]
    assert largest_difference(*ranks) == 0.0
    meta = bundle.read_meta(run)
    assert meta["status"] == "completed" and meta["processes"] == 2
    steps = [line for line in (run / "steps.jsonl").read_text().splitlines() if line]
    assert json.loads(steps[0])["steps_per_epoch"] == 4  # 24 source images in batches of 6


def test_several_processes_refuse_a_batch_they_cannot_share(small_dir: Path) -> None:
    from transfer_gui.core.config import ConfigError, TransferConfig
    from transfer_gui.core.train.dist.run import refuse
    from transfer_gui.core.train.ranks import Ranks, Shard

    two = Ranks(0, 2, 0, "", Shard(0, 2))
    config = tiny_config(small_dir, "full")
    refuse(config, two)  # a plain run is welcome
    for mode in ("align", "adabn", "dann", "coral+align"):  # and so is domain adaptation
        refuse(replace(config, transfer=TransferConfig(mode, target_dir=str(small_dir))), two)
    with pytest.raises(ConfigError, match="a batch of 1 cannot be shared by 2 processes"):
        refuse(tiny_config(small_dir, "full", batch_size=1), two)


# --- domain adaptation on two processes ------------------------------------------------------

# 1 vs 2 processes: float sums in another order, and this process's 2 threads against the
# children's 1 (measured: at most 5e-6 on weights and statistics of size 0.01 to 1; a process
# whose gathered features or pooled statistics were its own alone differs by 0.5)
STATISTICS_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def target_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Inverted shapes in class sub-folders (a target accuracy): 24 images, so a pass in
    batches of 16 gives one process a whole batch of 16 and the other the last 8."""
    return make_dataset(tmp_path_factory.mktemp("ddp_target"), per_class=8, size=32, seed=1,
                        invert=True)


def adapt_args(data: Path, target: Path, out: Path, mode: str, *more: str) -> list[str]:
    return ["train", str(data), "--out", str(out), "--target-unlabeled", str(target),
            "--adapt", mode, "--no-probe-first", "--augment", "none", "--epochs", "2",
            "--batch-size", "6", "--lr", "0.01", "--no-decode-cache", *more]


def weights(run: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(run / bundle.WEIGHTS))


@pytest.mark.slow  # the shared torchrun launch
def test_statistics_adaptation_on_two_processes_equals_one_process(
        small_dir: Path, target_dir: Path, tiny_dir: Path, launched: Launch, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """AdaBN, then feature alignment, of a linear probe: each process passes over its part of
    each folder (the target's 24 images: 16 and 8), the features are gathered and AdaBN's
    running statistics pooled, so both processes adapt the model one process adapts, with the
    same target accuracy over the whole target folder."""
    from transfer_gui.core.train.transfer.statistics import ALIGNMENT, Alignment

    launched.check("statistics")
    two, one = launched.folder / "statistics", tmp_path / "one"
    dump = launched.folder / "statistics-ranks"
    monkeypatch.setenv("TRANSFER_GUI_CACHE_DIR", str(tmp_path / "cache1"))  # no shared features
    assert main(adapt_args(small_dir, target_dir, one, "adabn+align", *STATISTICS_ARGS)) == 0

    ends = [torch.load(dump / f"rank{r}.end.pt") for r in range(2)]
    assert largest_difference(*ends) == 0.0  # every process adapted the same model
    adapted = {r: weights(r) for r in (one, two)}
    assert largest_difference(adapted[one], adapted[two]) < STATISTICS_TOLERANCE
    pretrained = torch.load(tiny_dir / "tiny_cnn.pth")
    for name in ("stem.1.running_mean", "stage2.1.running_var"):  # AdaBN re-estimated them
        assert float((adapted[two][f"body.{name}"] - pretrained[name]).abs().max()) > 0.01
    statistics = [Alignment.load(r) for r in (one, two)]
    for field in ("source_mean", "source_std", "target_mean", "target_std"):
        a, b = (getattr(s, field) for s in statistics)
        assert float((a - b).abs().max()) < STATISTICS_TOLERANCE, field
    assert (two / ALIGNMENT).is_file()
    notes = [bundle.read_meta(r)["adaptation"] for r in (one, two)]
    for key in ("target_acc_before", "target_acc_after", "target_acc_steps", "statistics"):
        assert notes[0][key] == notes[1][key], key
    assert notes[1]["target_acc_after"] is not None
    assert bundle.read_meta(two)["processes"] == 2


@pytest.mark.slow  # the shared torchrun launch
def test_dann_on_two_processes_keeps_every_process_identical(
        target_dir: Path, launched: Launch, capsys) -> None:
    """DANN, then alignment, fine-tuning a network with BatchNorm: the domain classifier's
    gradients are averaged with the model's, every process ends with rank 0's adapted model,
    and the run folder is an ordinary one."""
    launched.check("dann")
    dump, run = launched.folder / "dann-ranks", launched.folder / "dann"
    steps = [torch.load(dump / f"rank{r}.pt") for r in range(2)]
    trained = {k: v for k, v in steps[0].items() if "running" not in k and "batches" not in k}
    assert any(k.startswith("companion0.") for k in trained)  # the domain classifier
    assert largest_difference(trained, {k: steps[1][k] for k in trained}) == 0.0
    ends = [torch.load(dump / f"rank{r}.end.pt") for r in range(2)]
    assert largest_difference(*ends) == 0.0  # BatchNorm statistics too: rank 0's
    assert largest_difference(ends[0], weights(run)) == 0.0  # what rank 0 saved
    counts = [json.loads((dump / f"rank{r}.json").read_text()) for r in range(2)]
    # each process: half of each batch of both folders, 2 epochs of 3 steps of 6 + 6 images
    assert counts == [{"images": 18, "partner": 18}] * 2
    meta = bundle.read_meta(run)
    assert meta["status"] == "completed" and meta["processes"] == 2
    assert meta["adaptation"]["method"] == "dann+align"
    assert meta["adaptation"]["target_acc_after"] is not None
    assert all(row["target_acc"] is not None for row in meta["history"])
    capsys.readouterr()
    assert main(["evaluate", str(run), str(target_dir), "--json"]) == 0
    assert '"accuracy"' in capsys.readouterr().out


STATISTICS_ARGS = ("--backbone", "tiny_cnn", "--strategy", "linear-probe")


@pytest.fixture(scope="module")
def launched(small_dir: Path, target_dir: Path, tiny_dir: Path,
             tmp_path_factory: pytest.TempPathFactory) -> Launch:
    """The runs on two processes that the tests read, from one torchrun launch: a plain
    run, joint training, statistics adaptation and DANN (each test reads its own run folder
    and its processes' dumps)."""
    folder = tmp_path_factory.mktemp("ddp_launch")
    source = make_dataset(folder / "source", per_class=8, size=32, seed=5)

    def job(name: str, args: list[str], **env: str) -> dict:
        return {"name": name, "args": args,
                "env": {"DDP_DUMP": str(folder / f"{name}-ranks"), **env}}

    return launch_jobs(tiny_dir, folder, [
        job("plain", plain_args(small_dir, folder / "plain", 2)),
        job("joint", [*plain_args(small_dir, folder / "joint", 2), "--joint-source",
                      str(source)]),
        job("statistics", adapt_args(small_dir, target_dir, folder / "statistics",
                                     "adabn+align", *STATISTICS_ARGS),
            TRANSFER_GUI_CACHE_DIR=str(folder / "cache")),  # no features of other runs
        job("dann", adapt_args(small_dir, target_dir, folder / "dann", "dann+align",
                               "--backbone", "tiny_cnn", "--strategy", "full",
                               "--adapt-weight", "1")),
    ])
