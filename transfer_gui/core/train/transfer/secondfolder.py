"""The second image folder of a joint-training or domain-adaptation run.

Joint training (`transfer.mode == "joint"`): `transfer.source_dir` is a labelled folder (one
sub-folder per class, like the data folder). Its classes are matched to the run's by name:
source classes the run lacks are left out (with a warning), run classes the source lacks are
simply not in it. Every usable source image trains; none is held out.

Domain adaptation (`config.ADAPT_MODES`): `transfer.target_dir` holds unlabelled target images,
found at any depth. When every one of them lies in a first-level sub-folder named after one of
the run's classes, those names are taken as target labels, used only to report the accuracy
on the target after each epoch; the training batches never carry them.

A new run saves the second folder's file lists in the run folder (`second.json`), so a resumed
run trains on exactly the same files in the same order, as with its own split.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ...config import CLASSIC_STRATEGIES, ConfigError, RunConfig
from ...data.images import is_supported, unsupported_reason
from ...data.scan import (
    DataError,
    Problem,
    Sample,
    no_folder,
    scan_folder,
    verify_files,
    walk_files,
)
from ...data.split import split_samples
from ...events import Work
from ...io import bundle
from ...models.layers import body_frozen
from ...wording import count
from ..prepare import Prepared, SecondFolder
from .statistics import NO_BATCHNORM, batchnorms

SECOND = "second.json"


def check_transfer(prep: Prepared) -> None:
    """Refuse settings under which joint training or adaptation cannot work."""
    config = prep.config
    mode = config.transfer.mode
    if mode == "none":
        return
    gradient = config.transfer.gradient
    if config.model.strategy in CLASSIC_STRATEGIES and config.transfer.pairs_batches:
        raise ConfigError(f"the {config.model.strategy} head is fitted on fixed features; joint "
                          "training, DANN and CORAL need a strategy that trains by gradient "
                          "(linear-probe, fine-tune, full or scratch); feature alignment and "
                          "AdaBN work with it")
    weights = config.transfer
    if mode == "joint" and weights.source_weight == 0 and weights.target_weight == 0:
        raise ConfigError("joint training with both weights 0 trains nothing: give the source "
                          "or the target a positive weight")
    if gradient is not None and body_frozen(prep.model):
        raise ConfigError(f"domain adaptation ({mode}) works by changing the backbone's "
                          "features, but every backbone layer is frozen: choose fine-tune or "
                          "full, or make some backbone layers trainable; feature alignment "
                          "and AdaBN (--adapt align, adabn) adapt a frozen network")
    if mode == "adabn" and not batchnorms(prep.model.body):
        raise ConfigError(f"AdaBN: {NO_BATCHNORM}: choose --adapt align")


def attach_second(prep: Prepared, task: Work, run_dir: Path | None = None) -> Prepared:
    """`prep` with its second folder: read back from `run_dir` (a resumed run that saved
    one), else scanned. Unchanged when the run has no second folder."""
    check_transfer(prep)
    mode = prep.config.transfer.mode
    if mode == "none":
        return prep
    if run_dir is not None and (run_dir / SECOND).is_file():
        second = load_second(run_dir, "source" if mode == "joint" else "target")
    else:
        second = scan_second(prep.config, prep.classes, task)
    return dataclasses.replace(prep, second=second)


def scan_second(config: RunConfig, classes: list[str], task: Work | None = None) -> SecondFolder:
    task = task or Work()
    transfer = config.transfer
    if transfer.mode == "joint":
        assert transfer.source_dir
        return _scan_source(transfer.source_dir, classes, config.data.seed, task)
    assert transfer.target_dir
    return _scan_target(transfer.target_dir, classes, task)


def save_second(run_dir: Path, prep: Prepared) -> None:
    second = prep.second
    if second is not None:
        bundle.save_split(run_dir, second.root, second.train, second.labelled, SECOND)


def load_second(run_dir: Path, role: str) -> SecondFolder:
    root = str(bundle.read_json(run_dir / SECOND).get("root", ""))
    train, labelled = bundle.load_split(run_dir, name=SECOND)
    return SecondFolder(role, root, train, labelled)


# --- joint training: a labelled source folder -------------------------------------------------


def _scan_source(root: str, classes: list[str], seed: int, task: Work) -> SecondFolder:
    scan = scan_folder(root, verify=True, callbacks=task)
    index = {name: i for i, name in enumerate(classes)}
    extra = [c for c in scan.classes if c not in index]
    if extra:
        names = ", ".join(repr(c) for c in extra)
        task.message("warning", f"source classes the target does not have are left out: "
                                f"{names}")
    samples = [Sample(s.path, index[scan.classes[s.label]], s.digest) for s in scan.samples
               if scan.classes[s.label] in index]
    if not samples:
        raise DataError(f"the source folder {root} has no usable images of the target's "
                        f"classes ({', '.join(classes)})")
    _report(task, "source", root, len(samples), scan.problems)
    train, _ = split_samples(samples, 0.0, seed)  # every image trains, in a seeded order
    return SecondFolder("source", scan.root, train)


# --- domain adaptation: unlabelled target images ----------------------------------------------


def _scan_target(root: str, classes: list[str], task: Work) -> SecondFolder:
    folder = Path(root)
    if not folder.is_dir():
        raise no_folder(root, "the target folder ")
    problems: list[Problem] = []
    found = []
    for path in walk_files(folder, problems):
        if is_supported(path.name):
            found.append((str(path), _first_part(path, folder)))
        else:
            problems.append(Problem(str(path), unsupported_reason(path)))
    found.sort()
    checked = verify_files(found, True, problems, task, 4)
    usable = [(p, name, d) for (p, name), d in zip(found, checked, strict=True) if d is not None]
    if not usable:
        raise DataError(f"the target folder {root} holds no usable images"
                        + (f" ({problems[0].path}: {problems[0].reason})" if problems else ""))
    _report(task, "target", root, len(usable), problems)
    train = [Sample(p, 0, d) for p, _, d in usable]
    return SecondFolder("target", str(folder), train, _target_labels(usable, classes, task))


def _first_part(path: Path, root: Path) -> str:
    """The first-level sub-folder `path` lies in ("" for a file directly in `root`)."""
    parts = path.relative_to(root).parts
    return parts[0] if len(parts) > 1 else ""


def _target_labels(usable: list[tuple[str, str, str]], classes: list[str],
                   task: Work) -> list[Sample]:
    """The target images with labels, when every image's sub-folder names a run class."""
    index = {name: i for i, name in enumerate(classes)}
    if not all(name in index for _, name, _ in usable):
        task.message("info", "target images are unlabelled: no target accuracy (sub-folders "
                             "named after the classes would give one)")
        return []
    task.message("info", "the target folder's sub-folders are named after the classes: target "
                         "accuracy is reported after each epoch (these labels are never used "
                         "for training)")
    return [Sample(p, index[name], d) for p, name, d in usable]


def _report(task: Work, role: str, root: str, n_images: int,
            problems: list[Problem]) -> None:
    errors = [p for p in problems if p.severity == "error"]
    text = f"{role} folder {root}: {count(n_images, 'image')}"
    if errors:
        text += f", {count(len(errors), 'file')} skipped, e.g. {errors[0].path}: {errors[0].reason}"
    task.message("warning" if errors else "info", text)
