"""Getting a run ready to train: the data scanned and split, the model built and frozen.

A resumed run does not scan again: it takes the exact split and configuration saved in its
run folder, so it trains on the same files in the same order as before it stopped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from ..config import CLASSIC_STRATEGIES, LPFT_MIN_STEPS, ConfigError, RunConfig, lpft_epochs
from ..data.balance import WORDS, class_counts, resolve_balance
from ..data.batches import epoch_order
from ..data.datasets import Preprocess
from ..data.labels import LabelTask, needs_targets, require_tasks, scan_data, task_weights
from ..data.scan import FolderScan, Sample
from ..data.split import review_effect, training_split
from ..data.trainable import require_trainable, without_empty_classes
from ..events import CancelToken, Work
from ..io import bundle
from ..models.backbones import TransferNet, get_spec
from ..models.freezing import Group, Selection, describe_model, layer_groups, select
from ..models.heads import MultiHead
from ..models.layers import body_frozen, set_trainable
from ..models.weights import build_model
from ..wording import count

Split = tuple[list[Sample], list[Sample], list[str]]


@dataclass(frozen=True)
class SecondFolder:
    """What the second folder contributes.

    `train`: the images that train, in a fixed order. For joint training they carry the run's
    class indices; for adaptation every label is 0 (the labels are never used for training).
    `labelled`: adaptation only, the target images with their labels for evaluation ([] when
    the folder gives none).
    """

    role: str  # "source" (joint training) or "target" (domain adaptation)
    root: str
    train: list[Sample]
    labelled: list[Sample] = field(default_factory=list)

    @property
    def is_source(self) -> bool:
        return self.role == "source"


@dataclass
class Prepared:
    """A run ready to train: data split, model built and frozen as configured."""

    config: RunConfig
    classes: list[str]
    train: list[Sample]
    val: list[Sample]
    model: TransferNet
    groups: list[Group]
    preprocess: Preprocess
    selectors: tuple[str, ...]
    scan: FolderScan | None = None
    second: SecondFolder | None = None  # joint training / adaptation: the other folder
    tasks: list[LabelTask] = field(default_factory=list)  # a labels CSV's columns


def prepare(
    config: RunConfig,
    callbacks: Work | Iterable = (),
    cancel: CancelToken | None = None,
    split: Split | None = None,
    scan: FolderScan | None = None,
    tasks: list[LabelTask] | None = None,
) -> Prepared:
    """Scan (unless `scan` is given) and split the data (unless `split` is given), then build
    and freeze the model. `callbacks` may be a `Work`. `tasks`: a resumed run's label
    columns (with `split`)."""
    task = Work.of(callbacks, cancel)
    config = config.resolved()
    spec = get_spec(config.model.backbone)
    pre = Preprocess.for_backbone(spec, config.train.image_size)
    if split is None:
        if scan is None:
            scan = scan_data(config.data.root, verify=True, val_dir=config.data.val_dir,
                             callbacks=task, task=config.data.task,
                             image_root=config.data.image_root)
        require_trainable(scan)
        require_tasks(scan.tasks)
        scan, dropped = without_empty_classes(scan)
        _report_problems(scan, task, dropped)
        data = config.data
        _report_review(scan, task, data.exclude, data.relabel)
        train, val = training_split(scan, data.val_split, data.seed, data.folder_split,
                                     data.exclude, data.relabel)
        classes, tasks = scan.classes, scan.tasks
    else:
        train, val, classes = split
    tasks = list(tasks or [])
    _check_tasks(config, tasks)
    config = _settle_balance(config, train, len(classes), task, several=needs_targets(tasks))
    torch.manual_seed(config.train.seed)
    model = build_model(spec, len(classes), config.model.pretrained,
                        config.model.weights_file, task)
    if needs_targets(tasks):
        model.head = task_heads(model.feature_dim, tasks, config.train.task_weights)
    groups = layer_groups(spec, [n for n, _ in model.named_parameters()])
    chosen = selection_of(model, groups, config)
    set_trainable(model, groups, chosen.selectors)
    return Prepared(config, list(classes), train, val, model, groups, pre, chosen.selectors, scan,
                    tasks=tasks)


def task_heads(dim: int, tasks: list[LabelTask], weights: str = "") -> MultiHead:
    """One head per task (`models.heads.MultiHead`), each task's loss weighted."""
    names = [t.name for t in tasks]
    return MultiHead(dim, names, [len(t.classes) for t in tasks],
                     [t.multi_label for t in tasks], task_weights(weights, names))


def _check_tasks(config: RunConfig, tasks: list[LabelTask]) -> None:
    """Several tasks or a multi-label one: what a run of them cannot do, refused."""
    if not needs_targets(tasks):
        if config.train.task_weights.strip():
            task_weights(config.train.task_weights, [t.name for t in tasks])
        return
    if config.model.strategy in CLASSIC_STRATEGIES:
        raise ConfigError(f"the {config.model.strategy} head learns one single-label task: "
                          "choose a gradient strategy, or one column with --task",
                          field="strategy")
    if config.transfer.mode != "none":
        raise ConfigError("a second folder goes with one single-label task: choose one column "
                          "with --task", field="mode")


def _settle_balance(config: RunConfig, train: list[Sample], classes: int,
                    task: Work, several: bool = False) -> RunConfig:
    """The configuration with its option for unbalanced classes made concrete ("auto" decided
    on the training split's class counts; k-NN's votes are never weighted). `several`: the
    run trains several tasks or a multi-label one, whose heads are not balanced."""
    cfg = config.train
    if several:
        if cfg.balance not in (None, "none"):
            task.message("warning", "unbalanced classes: not balanced with several tasks or "
                                    "several labels per image")
        return replace(config, train=replace(cfg, balance="none"))
    counts = class_counts([s.label for s in train], classes)
    choice = "none" if config.model.strategy == "knn" else resolve_balance(cfg.balance, counts)
    present = [c for c in counts if c]
    if cfg.balance is None and choice != "none":
        task.message("info", f"unbalanced classes ({max(present)} vs {min(present)} training "
                             f"images): {WORDS[choice]} (auto)")
    return replace(config, train=replace(cfg, balance=choice))


def with_enough_steps(prep: Prepared, task: Work) -> Prepared:
    """A probe-first run whose epochs are "auto": on few images, enough epochs for fine-tuning
    to take `LPFT_MIN_STEPS` steps (`config.lpft_epochs`); otherwise `prep` as it is."""
    train = prep.config.train
    if not train.probe_first or not train.epochs:
        return prep
    steps = len(epoch_order(len(prep.train), train.batch_size, train.seed, 0))
    epochs = lpft_epochs(train.epochs, steps)
    if epochs == train.epochs:
        return prep
    task.message("info", f"{count(len(prep.train), 'training image')} make "
                         f"{count(steps, 'step')} an epoch: {epochs} epochs (auto), so that "
                         f"fine-tuning takes at least {LPFT_MIN_STEPS} steps")
    return replace(prep, config=replace(prep.config, train=replace(train, epochs=epochs)))


def selection_of(model: TransferNet, groups: list[Group], config: RunConfig) -> Selection:
    """What trains: the configuration's preset or its own selection, made explicit."""
    m = config.model
    return select(describe_model(model, groups, m.backbone), m.strategy, m.unfreeze, m.trainable)


def on_features(prep: Prepared) -> bool:
    """Whether a run trains on the frozen body's cached features instead of on images: a
    classic head always, a gradient run when its body is frozen and nothing is augmented."""
    cfg = prep.config
    if cfg.model.strategy in CLASSIC_STRATEGIES:
        return True
    train = cfg.train
    return bool(train.cache_features and train.augment == "none" and body_frozen(prep.model))


def _report_problems(scan: FolderScan, task: Work, dropped: list[str]) -> None:
    errors = [p for p in scan.problems if p.severity == "error"]
    if errors:
        task.message("warning", f"{count(len(errors), 'file')} skipped, e.g. "
                                f"{errors[0].path}: {errors[0].reason}")
    if dropped:
        names = ", ".join(repr(n) for n in dropped)
        task.message("warning", f"classes without usable images left out: {names}")
    task.message("info", f"data: {scan.summary()}")


def _report_review(scan: FolderScan, task: Work, exclude: tuple[str, ...],
                   relabel: tuple[str, ...]) -> None:
    """Say what a review changes (`review_effect` refuses a relabel to no class)."""
    if not exclude and not relabel:
        return
    left_out, moved, missing = review_effect(scan, exclude, relabel)
    gone = f" ({count(missing, 'file')} it names not found)" if missing else ""
    task.message("info", f"review: {count(left_out, 'image')} left out, {moved} relabelled{gone}")


def resume_config(run_dir: str | Path) -> RunConfig:
    """The configuration a run folder was started with, training exactly the selection it
    stored (what its preset or its own selection came to when it started)."""
    meta = bundle.read_meta(run_dir)
    try:
        config = RunConfig.from_dict(meta["config"])
        if "balance" not in meta["config"].get("train", {}):  # a run from before the option
            config = replace(config, train=replace(config.train, balance="none"))
        stored = meta.get("trainable")
        if stored is not None:
            config = replace(config, model=replace(config.model,
                                                   trainable=tuple(str(s) for s in stored)))
        return config
    except (KeyError, TypeError, AttributeError, ConfigError) as exc:
        raise bundle.RunError(f"{Path(run_dir) / bundle.META} holds no usable configuration "
                              f"({type(exc).__name__}: {exc})") from None


def saved_split(run_dir: str | Path) -> Split:
    """The train and validation files and the classes a run was started with."""
    meta = bundle.read_meta(run_dir)
    train, val = bundle.load_split(run_dir)
    return train, val, [str(c) for c in meta["classes"]]


def saved_tasks(run_dir: str | Path) -> list[LabelTask]:
    """The label columns a run was started with ([] for a folder of classes)."""
    return bundle.meta_tasks(bundle.read_meta(run_dir))
