"""Training with a second image folder: joint training and domain adaptation's settings
(`TransferConfig`), and the adaptation methods' defaults, which the adaptation benchmark
chose (`tests/bench/bench_adaptation.py`). Part of the run configuration (`config`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .schema import Cli, ConfigError, Section, option

JOINT, ADAPT = "joint training", "domain adaptation"  # the command line's sections
WEIGHT: dict[str, Any] = {"min": 0.0, "top": 100.0, "decimals": 2, "step": 0.1}

# Domain adaptation's methods (`train.transfer.methods` carries them out). A gradient method
# (DANN, CORAL) trains the network on both folders; a statistics method adapts the trained
# model without training: "align" standardises each domain's features with its own mean and
# variance, "adabn" re-estimates BatchNorm's running statistics on the target images. "a+b"
# does a, then b.
ADAPT_NAMES = {
    "dann": "DANN", "coral": "CORAL", "align": "feature alignment", "adabn": "AdaBN",
    "adabn+align": "AdaBN, then feature alignment", "coral+align": "CORAL, then feature "
    "alignment", "dann+align": "DANN, then feature alignment",
}
ADAPT_MODES = (*ADAPT_NAMES, "auto")
GRADIENT_ADAPT = ("dann", "coral")
# What "auto" becomes, and DANN's and CORAL's weights and the layer groups below the head they
# train with fine-tune (their own, not the fine-tune strategy's top half): chosen by the
# adaptation benchmark (tests/bench/bench_adaptation.py; tests/bench/BENCHMARKS.md, "Domain
# adaptation") on its choice seeds, for a frozen network (probe, classic head: only a
# statistics method applies) and a trained one; `tests/test_adapt_defaults.py` holds them
# to its recorded table.
AUTO_ADAPT = {"trained": "align", "frozen": "align"}
ADAPT_WEIGHTS = {"dann": 1.0, "coral": 1.0}
ADAPT_LAYERS = {"dann": 1, "coral": 1}


def adapt_steps(mode: str) -> tuple[str, ...]:
    """The steps of an adaptation mode in order ("dann+align" -> ("dann", "align"))."""
    return tuple(mode.split("+")) if mode in ADAPT_NAMES else ()


@dataclass(frozen=True)
class TransferConfig(Section):
    """Training with a second image folder.

    "joint": `source_dir` is a labelled folder of the same classes; each step's loss is
    `source_weight * L_source + target_weight * L_target`, where the target is the run's own
    data folder (whose validation split measures the result).
    Domain adaptation (`ADAPT_MODES`): the run's data folder is the labelled source and
    `target_dir` holds unlabelled target images; `adapt_weight` scales DANN's or CORAL's loss.
    """

    mode: str = option(
        "none", label="Mode",
        choices={"none": "None: this folder only", "joint": "Joint training",
                 "auto": "Domain adaptation: auto (benchmark's choice)",
                 "align": "Domain adaptation: feature alignment",
                 "adabn": "Domain adaptation: AdaBN",
                 "adabn+align": "Domain adaptation: AdaBN + alignment",
                 "dann": "Domain adaptation: DANN", "coral": "Domain adaptation: CORAL",
                 "dann+align": "Domain adaptation: DANN + alignment",
                 "coral+align": "Domain adaptation: CORAL + alignment"},
        help="Train on the data folder alone, together with a second labelled folder, or adapt "
             "to a folder of unlabelled images",
        cli=Cli("--adapt", group=ADAPT, words={m: m for m in ADAPT_MODES},
                help="auto (the adaptation benchmark's choice), align (standardise each "
                     "domain's features with its own statistics: no training), adabn "
                     "(BatchNorm statistics re-estimated on the target), dann, coral, or a "
                     "combination: adabn+align, dann+align, coral+align; default auto"))
    source_dir: str | None = option(
        label="Source folder",
        help="A labelled folder (one sub-folder per class, the same classes) that trains along "
             "with the data folder",
        cli=Cli("--joint-source", group=JOINT, metavar="DIR",
                help="a labelled source folder with the same class names"))
    target_dir: str | None = option(
        label="Target folder", help="Unlabelled images of the domain the model will be used on",
        cli=Cli("--target-unlabeled", group=ADAPT, metavar="DIR",
                help="unlabelled target images (any layout); class sub-folders named like "
                     "DATA's give a target accuracy, never training labels"))
    source_weight: float = option(
        1.0, label="Source weight a", help="a: the weight of the source folder's loss", **WEIGHT,
        cli=Cli(group=JOINT, metavar="A", help="weight of the source loss (default 1)"))
    target_weight: float = option(
        1.0, label="Target weight b", help="b: the weight of the data folder's loss", **WEIGHT,
        cli=Cli(group=JOINT, metavar="B",
                help="weight of the target loss (default 1; 0: source-only training)"))
    adapt_weight: float | None = option(
        label="Adaptation weight", min=0.0, above=True, top=10000.0, decimals=2, step=0.1,
        special="auto",
        help="The weight of DANN's or CORAL's loss; auto: the adaptation benchmark's choice "
             f"(DANN {ADAPT_WEIGHTS['dann']:g}, CORAL {ADAPT_WEIGHTS['coral']:g})",
        cli=Cli(group=ADAPT, metavar="W", help="weight of DANN's or CORAL's loss (default: "
                f"the benchmark's, DANN {ADAPT_WEIGHTS['dann']:g}, CORAL "
                f"{ADAPT_WEIGHTS['coral']:g})"))
    adapt_layers: int | None = option(
        label="Layers that adapt", min=0, bottom=1, top=24, special="auto", suffix=" groups",
        help="DANN and CORAL with the fine-tune strategy: how many layer groups below the head "
             f"adapt; auto: the adaptation benchmark's choice (DANN {ADAPT_LAYERS['dann']}, "
             f"CORAL {ADAPT_LAYERS['coral']}), not Fine-tune top's",
        cli=Cli(group=ADAPT, metavar="N", help="dann/coral with fine-tune: layer groups below "
                f"the head that adapt (default: the benchmark's, DANN {ADAPT_LAYERS['dann']}, "
                f"CORAL {ADAPT_LAYERS['coral']})"))
    auto: bool = option(False, form=False, cli=False)  # the mode was "auto" (run.json says so)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mode == "joint" and not self.source_dir:
            raise ConfigError("joint training needs a labelled source folder", field="source_dir")
        if self.mode in ADAPT_MODES and not self.target_dir:
            raise ConfigError("domain adaptation needs a folder of unlabelled target images",
                              field="target_dir")

    @property
    def steps(self) -> tuple[str, ...]:
        return adapt_steps(self.mode)

    @property
    def gradient(self) -> str | None:
        """DANN or CORAL when the mode trains with one (else None)."""
        return next((s for s in self.steps if s in GRADIENT_ADAPT), None)

    @property
    def pairs_batches(self) -> bool:
        """Whether training takes batches from both folders (joint training, DANN, CORAL)."""
        return self.mode == "joint" or self.gradient is not None

    def resolved(self, frozen: bool) -> TransferConfig:
        """"auto" made the benchmark's choice for a `frozen` or trained network, and the
        weight made the chosen method's default."""
        mode = self.mode
        if mode == "auto":
            mode = AUTO_ADAPT["frozen" if frozen else "trained"]
        gradient = next((s for s in adapt_steps(mode) if s in GRADIENT_ADAPT), None)
        weight = self.adapt_weight
        if weight is None and gradient is not None:
            weight = ADAPT_WEIGHTS[gradient]
        layers = self.adapt_layers
        if layers is None and gradient is not None:
            layers = ADAPT_LAYERS[gradient]
        return dataclasses.replace(self, mode=mode, adapt_weight=weight, adapt_layers=layers,
                                   auto=self.auto or self.mode == "auto")
