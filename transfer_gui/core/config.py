"""Immutable run configuration, saved as JSON next to every run.

Each setting is declared once, with `option(...)`: its default, its allowed values (which the
dataclass checks), its words in the window's form and its command-line option (the form and
the command line are built from these declarations).

Each dataclass converts to and from plain dictionaries; unknown keys are ignored on load so a
project written by a newer version still opens, and missing keys take their defaults.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

from .schema import Cli, Section, option
from .schema import ConfigError as ConfigError  # re-exported: the configuration's error
from .transferconfig import (  # noqa: F401  # re-exported: the run configuration's names
    ADAPT,
    ADAPT_LAYERS,
    ADAPT_MODES,
    ADAPT_NAMES,
    ADAPT_WEIGHTS,
    AUTO_ADAPT,
    GRADIENT_ADAPT,
    JOINT,
    WEIGHT,
    TransferConfig,
    adapt_steps,
)

# Each strategy's name in the window (presets, menus, tables, help), declared once.
STRATEGY_NAMES = {
    "linear-probe": "Linear probe",
    "fine-tune": "Fine-tune top",
    "full": "Full fine-tune",
    "scratch": "From scratch",
    "logistic": "Logistic regression",
    "knn": "k-NN",
}
STRATEGIES = tuple(STRATEGY_NAMES)
CLASSIC_STRATEGIES = ("logistic", "knn")  # a classic model on frozen features, no gradients
GRADIENT = tuple(s for s in STRATEGIES if s not in CLASSIC_STRATEGIES)
TWO_STAGE = ("fine-tune", "full")  # strategies that unfreeze layers below the head


@dataclass(frozen=True)
class DataConfig(Section):
    """Where the images are and how they are split."""

    root: str = option("", cli=False)  # the command's DATA argument
    # an explicit validation folder; else val_split of root
    val_dir: str | None = option(cli=Cli("--val", metavar="DIR",
                                         help="a separate validation folder"))
    val_split: float = option(
        0.2, label="Validation share", min=0.0, max=1.0, below=True, top=0.9, scale=100,
        step=0.05, decimals=0, suffix=" %",
        help="The share of each class's images kept aside to measure the model on images it "
             "never trained on")
    seed: int = option(  # shares --seed with the training recipe
        0, label="Split seed", min=0, top=2**31 - 1,
        help="Which images go to validation; the same seed gives the same split, so runs can "
             "be compared")
    folder_split: bool = option(True, cli=False)  # a train/ + val/ folder keeps its own split
    # the review of likely label errors: files (relative to root, "/"-separated) left out of
    # every run, and "file=class" pairs whose label a run replaces; the files stay where they are
    exclude: tuple[str, ...] = option((), cli=False)
    relabel: tuple[str, ...] = option((), cli=False)
    # the folder (or CSV) those decisions were made on: they belong to it, so a configuration
    # moved to another root (`dataclasses.replace(data, root=...)`) carries none of them
    reviewed: str = option("", form=False, cli=False)
    task: str | None = option(form=False, cli=Cli(  # a labels CSV's one column to train
        metavar="COLUMN", help="with a labels CSV: train only this column's task"))
    image_root: str | None = option(form=False, cli=Cli(  # where a CSV's paths are read from
        "--image-root", metavar="DIR",
        help="with a labels CSV: read its relative image paths from DIR instead of the CSV's "
             "folder"))

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.reviewed and not same_path(self.reviewed, self.root):
            # another folder's decisions: a file of the same name here is not the one reviewed
            object.__setattr__(self, "exclude", ())
            object.__setattr__(self, "relabel", ())
        object.__setattr__(self, "reviewed", self.root if self.exclude or self.relabel else "")


def same_path(a: str, b: str) -> bool:
    """Whether two paths name the same place (as written; no file-system access)."""
    return os.path.normcase(os.path.normpath(a)) == os.path.normcase(os.path.normpath(b))


@dataclass(frozen=True)
class ModelConfig(Section):
    """Which network, which weights, and which parameters train.

    `trainable`, when set, lists exactly the groups, module paths or parameter names that train
    (everything else is frozen) and overrides the strategy's preset; the GUI's layer tree writes it.
    """

    backbone: str = option("efficientnet_lite0")
    strategy: str = option(
        "linear-probe", choices=STRATEGY_NAMES,
        cli=Cli(help="what trains (default linear-probe); logistic and knn fit a classic "
                     "model on the frozen backbone's features"))
    unfreeze: int | None = option(  # None: the top half of the body's groups (TOP_SHARE)
        None, min=0, bottom=1, top=48, suffix=" groups", special="auto (top half)",
        help="How many layer groups below the head train; auto: the top half of the "
             "network's groups (rounded up), the same share on every backbone", cli=Cli(
        metavar="N", help="fine-tune: layer groups below the head that train (default: the "
                          "top half of the backbone's groups)"))
    weights_file: str | None = option(cli=Cli("--weights", metavar="FILE",
                                              help="start from this state dict"))
    trainable: tuple[str, ...] | None = option(cli=False)

    @property
    def pretrained(self) -> bool:
        return self.strategy != "scratch"

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        if self.trainable is not None:
            out["trainable"] = list(self.trainable)
        return out


AUTO = "Auto (per strategy)"
CLASSIC_TIP = "A classic head is fitted on the features in one pass: no epochs or rates"
GRADIENT_ONLY: dict[str, Any] = {"strategies": GRADIENT, "idle": CLASSIC_TIP}
# Unbalanced classes, "auto": this option when the largest class of the training split has at
# least BALANCE_RATIO times the images of the smallest, else none (data.balance; chosen by
# tests/bench/bench_unbalanced.py, see tests/bench/BENCHMARKS.md (j) and (o): the class-weighted
# loss, the plain baseline, found the small class more often than the sampler on real
# photographs and on the 10:1 generated layout).
BALANCE_AUTO, BALANCE_RATIO = "weighted", 3
BALANCE_CHOICES = {None: "Auto (when unbalanced)", "none": "None",
                   "weighted": "Class-weighted loss", "sampler": "Balanced sampler"}


@dataclass(frozen=True)
class TrainConfig(Section):
    """The training recipe. `None` means "the strategy's default" (see `resolved`).

    The fields are in the order of the window's form (and of the command line's options).
    """

    epochs: int | None = option(
        label="Epochs", min=1, top=1000, special="auto", resolved=True, **GRADIENT_ONLY,
        help="How many passes over the training images; auto is the strategy's default (for "
             "a fine-tune from a probe, more on few images: at least 80 fine-tuning steps)")
    # LP-FT: epoch 1 trains the linear-probe strategy's probe on cached features, then the chosen
    # layers fine-tune from it (and the run never ends worse than that probe)
    probe_first: bool | None = option(
        label="Fine-tune from", strategies=TWO_STAGE,
        choices={None: AUTO, True: "Linear probe first", False: "Head first for N epochs"},
        help="Fine-tuning starts from a linear probe trained on the frozen network's features "
             "as the linear-probe strategy trains it (epoch 1); if fine-tuning never beats it "
             "on validation, the run keeps the probe",
        cli=Cli("--no-probe-first", const=False,
                help="fine-tune/full: skip the converged linear probe that fine-tuning starts "
                     "from (and is never worse than)"))
    head_epochs: int | None = option(  # the old two-stage recipe: epochs of the head alone first
        label="Head first for", min=0, top=1000, special="auto", suffix=" epochs", resolved=True,
        strategies=TWO_STAGE, idle="Two-stage training applies to fine-tuning",
        help="The older two-stage recipe: train the new head alone (the network frozen) for "
             "this many epochs, then unfreeze the chosen layers. 0 trains everything from the "
             "start; auto is the strategy's default.",
        cli=Cli(metavar="K", help="the old two-stage recipe (with --no-probe-first): train the "
                                  "head alone for K epochs first"))
    layer_decay: float | None = option(  # each group below the head: lr x this (probe-first)
        label="Layer decay", min=0.0, above=True, max=1.0, step=0.05, special="auto",
        resolved=True, unresolved="spread", strategies=TWO_STAGE,
        help="Each layer group below the head learns at this times the rate of the group above "
             "it (smaller: earlier layers change less)",
        cli=Cli(metavar="D", help="fine-tune/full: each layer group below the head learns at D "
                                  "times the rate of the one above (default: per strategy)"))
    freeze_bn: bool | None = option(  # BatchNorm keeps its pretrained statistics in fine-tuning
        label="BatchNorm statistics", strategies=TWO_STAGE,
        choices={None: "Auto", True: "Frozen (pretrained)", False: "Updated"},
        help="BatchNorm statistics while fine-tuning: kept as pretrained (steadier with few "
             "images) or updated from your images",
        cli=Cli("--bn-stats", words={"frozen": True, "update": False},
                help="fine-tune/full: keep BatchNorm's pretrained statistics or update them "
                     "(default: frozen when starting from a probe)"))
    batch_size: int = option(
        32, label="Batch size", min=1, top=4096,
        help="Images per training step: smaller needs less memory, larger is faster on a GPU",
        cli=Cli(metavar="N|auto", help="images per step (default 32); auto: the largest that "
                                       "fits on the GPU"))
    lr: float | None = option(
        label="Learning rate", min=0.0, above=True, entry=True, special="auto",
        resolved=True, **GRADIENT_ONLY,
        help="How big the optimizer's steps are; empty uses the strategy's default. Find "
             "learning rate measures a good one on your data",
        cli=Cli(help="peak learning rate (default: per strategy)"))
    optimizer: str = option(
        "adamw", label="Optimizer", choices={"adamw": "AdamW", "sgd": "SGD (momentum)"},
        **GRADIENT_ONLY,
        help="AdamW adapts each parameter's step (a safe default); SGD with momentum is the "
             "classic choice for fine-tuning")
    schedule: str = option(
        "onecycle", label="Schedule", **GRADIENT_ONLY,
        choices={"onecycle": "One-cycle", "cosine": "Cosine with warm-up",
                 "constant": "Constant"},
        help="How the learning rate moves during training: one-cycle warms up, then anneals; "
             "cosine warms up, then decays; constant stays put")
    weight_decay: float = option(
        1e-4, label="Weight decay", min=0.0, top=1.0, decimals=5, step=1e-4,
        **GRADIENT_ONLY, help="Pulls the weights towards zero, against overfitting")
    label_smoothing: float = option(
        0.1, label="Label smoothing", min=0.0, max=1.0, top=0.5, step=0.05,
        **GRADIENT_ONLY,
        help="The true class is aimed at 1 − ε instead of 1, the others share ε: less "
             "over-confident predictions, less harm from wrong labels")
    balance: str | None = option(  # None: auto (data.balance); the run records its choice
        label="Unbalanced classes", strategies=tuple(s for s in STRATEGIES if s != "knn"),
        idle="k-NN's votes are not weighted", choices=BALANCE_CHOICES,
        help="Class-weighted loss: each class weighs the same in the loss, however few its "
             "images; balanced sampler: each epoch draws the classes equally often. Auto: "
             f"the {BALANCE_CHOICES[BALANCE_AUTO].lower()} when the largest class has "
             f"{BALANCE_RATIO} or more times the images of the smallest (measured best on "
             "unbalanced sets), else none",
        cli=Cli(words={"auto": None, "none": "none", "weighted": "weighted",
                       "sampler": "sampler"},
                help="unbalanced classes: class-weighted loss or balanced sampler (default "
                     f"auto: {BALANCE_AUTO} when the largest class has {BALANCE_RATIO}x the "
                     "images of the smallest)"))
    task_weights: str = option(
        "", label="Task weights", entry=True, **GRADIENT_ONLY, cli=Cli(
            metavar="NAME=W,...", help="with several tasks: the weight of each task's loss "
            "(default 1), e.g. species=1,disease=0.5"),
        help="With a CSV of several label columns, the loss is the sum of each task's loss "
             "times its weight: NAME=W separated by commas (a task not named weighs 1)")
    augment: str | None = option(
        label="Augmentation", resolved=True, **GRADIENT_ONLY,
        choices={None: AUTO, "none": "None", "light": "Light", "standard": "Standard"},
        help="Random crops, flips and colour changes of the training images, so the model "
             "generalises. Auto: none for a linear probe (its features are then cached), "
             "light or standard for the others")
    image_size: int | None = option(
        label="Image size", min=1, top=1024, step=16, special="backbone default",
        suffix=" px",
        help="The side of the square image the network sees: smaller is faster, larger keeps "
             "finer detail. Default: the size the backbone was trained at")
    mixed_precision: bool = option(  # used on CUDA only
        True, label="Mixed precision", text="bf16/fp16 on a CUDA GPU",
        help="Compute in 16 bits on a CUDA GPU: about twice as fast, the same accuracy; the "
             "CPU always uses 32 bits",
        cli=Cli("--no-amp", help="no mixed precision on CUDA"))
    device: str = option(
        "auto", label="Device",
        choices={"auto": "Automatic", "cpu": "CPU", "cuda": "CUDA GPU"},
        help="Where training runs; Automatic takes a CUDA GPU when there is one")
    early_stopping: int = option(  # patience in epochs; 0 turns it off
        0, label="Early stopping", min=0, top=100, special="off", suffix=" epochs",
        **GRADIENT_ONLY,
        help="Stop after this many epochs without a better validation score",
        cli=Cli(metavar="PATIENCE"))
    seed: int = option(
        0, label="Seed", min=0, top=2**31 - 1,
        help="Fixes the random choices (initial head, image order, augmentation) so a run can "
             "be repeated exactly")
    auto_batch_size: bool = option(  # GPU: the largest batch that fits (replaces batch_size)
        False, label="Auto batch size", text="largest that fits (GPU)",
        help="On a GPU, find the largest batch that fits in memory",
        cli=Cli("--batch-size", word="auto"))
    cache_memory_mb: int = option(  # RAM for decoded images; beyond it they spill to disk
        1024, label="Image cache", min=0, top=1 << 20, step=256,
        special="off (decode every epoch)", suffix=" MB", off="cache_decoded",
        help="Memory for decoded images, so later epochs skip decoding; beyond it they spill "
             "to a temporary file",
        cli=Cli("--cache-memory", metavar="MB", help="RAM for decoded images (default 1024); "
                                                     "the rest spills to disk"))
    cache_decoded: bool = option(  # decode and resize each image once, not every epoch
        True, form=False,  # the form's image cache at "off"
        cli=Cli("--no-decode-cache", help="decode every image every epoch instead of once"))
    compile: bool = option(  # torch.compile the model (pays off only for long runs)
        False, label="Compile", text="torch.compile (long GPU runs)",
        help="Compile the network with torch.compile: faster on long GPU runs, but the first "
             "epoch waits for the compilation",
        cli=Cli(help="torch.compile the model (slow start; pays off on long GPU runs)"))
    num_workers: int | None = option(  # None: chosen from the machine
        min=0, form=False, cli=Cli("--workers", help="DataLoader worker processes"))
    cache_features: bool = option(  # frozen backbone + no augmentation: compute features once
        True, form=False,
        cli=Cli("--no-feature-cache", help="linear probe: run the backbone every epoch "
                                           "instead of caching features"))
    sync_batchnorm: bool | None = option(  # None: on when BatchNorm statistics train
        None, form=False,
        cli=Cli("--sync-bn", words={"on": True, "off": False},
                help="several GPUs (torchrun): BatchNorm statistics over every GPU's images "
                     "(default: on when they train, off when frozen; GPUs only)"))

# Per-strategy defaults: epochs, learning rate (AdamW; SGD gets 10x), augmentation.
STRATEGY_DEFAULTS: dict[str, tuple[int, float, str]] = {
    "linear-probe": (10, 3e-3, "none"),
    "fine-tune": (8, 1e-3, "light"),
    "full": (10, 5e-4, "light"),
    "scratch": (20, 2e-3, "standard"),
    "logistic": (1, 1.0, "none"),  # fitted on cached features, no epochs
    "knn": (1, 1.0, "none"),
}
# Two-stage fine-tuning: epochs of the head alone before the chosen layers unfreeze.
# Measured on generated data (3 seeds, Lite0, 6 epochs): two stages raised the mean best
# validation accuracy from 91.7 % to 94.4 % for fine-tune; for full fine-tuning it was a wash.
HEAD_EPOCHS: dict[str, int] = {"fine-tune": 2}
# LP-FT (the default for fine-tune and full): epochs (the probe's included), learning rate,
# augmentation and layer decay. Set from the LP-FT recipe (small rates after the probe) and the
# transfer-quality benchmark (tests/bench/BENCHMARKS.md, section g; 4 sets x 3 seeds).
LPFT_DEFAULTS: dict[str, tuple[int, float, str, float]] = {
    "fine-tune": (8, 3e-4, "light", 0.7),
    "full": (8, 3e-4, "light", 0.7),
}
# ...and with few images, "auto" epochs give fine-tuning at least this many steps (at most
# LPFT_MAX_EPOCHS epochs): 7 epochs of 120 images are 28 steps, too few to move the network
# (benchmark: 20 epochs instead of 8 took the far sets from +1.4 to +3.8 points over the probe).
LPFT_MIN_STEPS, LPFT_MAX_EPOCHS = 80, 40


def lpft_epochs(epochs: int, steps_per_epoch: int) -> int:
    """The automatic epoch count of a probe-first run: `epochs`, or more when each epoch has
    so few steps that fine-tuning (every epoch after the probe) would take under
    `LPFT_MIN_STEPS` of them."""
    needed = 1 + -(-LPFT_MIN_STEPS // max(1, steps_per_epoch))
    return max(epochs, min(needed, LPFT_MAX_EPOCHS))


def resolve_train(train: TrainConfig, strategy: str) -> TrainConfig:
    """Fill the strategy-dependent defaults of `train`."""
    probe = train.probe_first if train.probe_first is not None else strategy in LPFT_DEFAULTS
    probe = probe and strategy in LPFT_DEFAULTS
    epochs, lr, augment = STRATEGY_DEFAULTS[strategy]
    decay = None
    if probe:
        epochs, lr, augment, decay = LPFT_DEFAULTS[strategy]
    if train.optimizer == "sgd":
        lr *= 10
    head = train.head_epochs if train.head_epochs is not None else HEAD_EPOCHS.get(strategy, 0)
    return dataclasses.replace(
        train,
        epochs=train.epochs or epochs,
        lr=train.lr or lr,
        augment=train.augment or augment,
        head_epochs=0 if probe else head,
        probe_first=probe,
        layer_decay=train.layer_decay if train.layer_decay is not None else decay,
        freeze_bn=train.freeze_bn if train.freeze_bn is not None else probe,
    )


@dataclass(frozen=True)
class RunConfig:
    """Everything one training run needs."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    transfer: TransferConfig = field(default_factory=TransferConfig)

    def resolved(self) -> RunConfig:
        """The strategy's defaults filled in, and domain adaptation's choices made: "auto",
        the weights, and the layers DANN and CORAL train with fine-tune. Adaptation starts
        from a probe (LP-FT) like fine-tuning; joint training's batches have no probe stage;
        a second folder's batches are not balanced."""
        train, model = self.train, self.model
        frozen = model.strategy in CLASSIC_STRATEGIES or model.strategy == "linear-probe"
        transfer = self.transfer.resolved(frozen) if self.transfer.mode in ADAPT_MODES \
            else self.transfer
        if transfer.gradient is not None:
            if train.head_epochs is None:
                # the adaptation loss acts through the backbone: a head-only stage would idle it
                train = dataclasses.replace(train, head_epochs=0)
            if model.strategy == "fine-tune" and model.trainable is None:
                model = dataclasses.replace(model, unfreeze=transfer.adapt_layers or 1)
        if transfer.mode != "none":
            train = dataclasses.replace(train, balance="none")
        if transfer.mode == "joint":  # the second folder's batches have no probe stage
            train = dataclasses.replace(train, probe_first=False)
        return dataclasses.replace(self, model=model, transfer=transfer,
                                   train=resolve_train(train, model.strategy))

    def to_dict(self) -> dict[str, Any]:
        return {
            "data": self.data.to_dict(),
            "model": self.model.to_dict(),
            "train": self.train.to_dict(),
            "transfer": self.transfer.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> RunConfig:
        data = data or {}
        return cls(
            data=DataConfig.from_dict(data.get("data")),
            model=ModelConfig.from_dict(data.get("model")),
            train=TrainConfig.from_dict(data.get("train")),
            transfer=TransferConfig.from_dict(data.get("transfer")),
        )
