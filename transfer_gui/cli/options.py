"""The training options that `train`, `lr-find` and `compare` share, and turning them into a
`RunConfig` (imports of the engine stay inside the functions: `--help` is instant)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any


class UsageError(Exception):
    """A combination of options that makes no sense; reported as a usage error."""


STRATEGY_CHOICES = ("linear-probe", "fine-tune", "full", "scratch", "logistic", "knn")


def add_recipe_args(p: argparse.ArgumentParser) -> None:
    """The model and training options shared by train, lr-find and compare."""
    p.add_argument("--backbone", default="efficientnet_lite0")
    p.add_argument("--strategy", default="linear-probe", choices=STRATEGY_CHOICES,
                   help="what trains (default linear-probe); logistic and knn fit a classic "
                        "model on the frozen backbone's features")
    p.add_argument("--unfreeze", type=int, default=2, metavar="N",
                   help="fine-tune: layer groups below the head that train (default 2)")
    p.add_argument("--head-epochs", type=int, metavar="K",
                   help="the old two-stage recipe (with --no-probe-first): train the head "
                        "alone for K epochs first")
    p.add_argument("--no-probe-first", dest="probe_first", action="store_false", default=None,
                   help="fine-tune/full: skip the converged linear probe that fine-tuning "
                        "starts from (and is never worse than)")
    p.add_argument("--layer-decay", type=float, metavar="D",
                   help="fine-tune/full: each layer group below the head learns at D times "
                        "the rate of the one above (default: per strategy)")
    p.add_argument("--bn-stats", choices=("frozen", "update"),
                   help="fine-tune/full: keep BatchNorm's pretrained statistics or update "
                        "them (default: frozen when starting from a probe)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=_batch_size, default=32, metavar="N|auto",
                   help="images per step (default 32); auto: the largest that fits on the GPU")
    p.add_argument("--lr", type=float, help="peak learning rate (default: per strategy)")
    p.add_argument("--optimizer", default="adamw", choices=("adamw", "sgd"))
    p.add_argument("--schedule", default="onecycle", choices=("onecycle", "cosine", "constant"))
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--image-size", type=int)
    p.add_argument("--val-split", type=float, default=0.2)
    p.add_argument("--val", metavar="DIR", help="a separate validation folder")
    p.add_argument("--augment", choices=("none", "light", "standard"))
    p.add_argument("--early-stopping", type=int, default=0, metavar="PATIENCE")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--no-amp", action="store_true", help="no mixed precision on CUDA")
    p.add_argument("--workers", type=int, help="DataLoader worker processes")
    p.add_argument("--cache-memory", type=int, default=1024, metavar="MB",
                   help="RAM for decoded images (default 1024); the rest spills to disk")
    p.add_argument("--no-decode-cache", action="store_true",
                   help="decode every image every epoch instead of once")
    p.add_argument("--no-feature-cache", action="store_true",
                   help="linear probe: run the backbone every epoch instead of caching features")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the model (slow start; pays off on long GPU runs)")
    p.add_argument("--weights", metavar="FILE", help="start from this state dict")


def add_transfer_args(p: argparse.ArgumentParser) -> None:
    joint = p.add_argument_group(
        "joint training", "DATA is the labelled target (its validation split measures the "
        "result); each step's loss is A * L_source + B * L_target; an epoch is one pass over "
        "the source")
    joint.add_argument("--joint-source", metavar="DIR",
                       help="a labelled source folder with the same class names")
    joint.add_argument("--source-weight", type=float, default=1.0, metavar="A",
                       help="weight of the source loss (default 1)")
    joint.add_argument("--target-weight", type=float, default=1.0, metavar="B",
                       help="weight of the target loss (default 1; 0: source-only training)")
    adapt = p.add_argument_group(
        "domain adaptation", "DATA is the labelled source (its validation split is source "
        "images); the backbone must train (the strategy defaults to fine-tune)")
    adapt.add_argument("--target-unlabeled", metavar="DIR",
                       help="unlabelled target images (any layout); class sub-folders named "
                            "like DATA's give a target accuracy, never training labels")
    adapt.add_argument("--adapt", choices=("dann", "coral"),
                       help="DANN (domain classifier behind gradient reversal) or deep CORAL "
                            "(feature covariances); default dann")
    adapt.add_argument("--adapt-weight", type=float, default=1.0, metavar="W",
                       help="weight of the adaptation loss (default 1; CORAL's term is "
                            "small, on 1280 features hundreds to thousands suit it)")
    p.set_defaults(strategy=None)  # resolved in _transfer_config


def _batch_size(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'auto', not {text!r}") from None


def train_config(args: argparse.Namespace) -> Any:
    from ..core import DataConfig, ModelConfig, RunConfig, TrainConfig

    transfer = _transfer_config(args)
    return RunConfig(
        transfer=transfer,
        data=DataConfig(root=str(Path(args.data).resolve()), val_dir=args.val,
                        val_split=args.val_split, seed=args.seed),
        model=ModelConfig(backbone=args.backbone, strategy=args.strategy,
                          unfreeze=args.unfreeze, weights_file=args.weights),
        train=TrainConfig(
            epochs=args.epochs, lr=args.lr, head_epochs=args.head_epochs,
            probe_first=args.probe_first, layer_decay=args.layer_decay,
            freeze_bn=None if args.bn_stats is None else args.bn_stats == "frozen",
            batch_size=32 if args.batch_size == "auto" else args.batch_size,
            auto_batch_size=args.batch_size == "auto", cache_memory_mb=args.cache_memory,
            cache_decoded=not args.no_decode_cache, cache_features=not args.no_feature_cache,
            compile=args.compile,
            optimizer=args.optimizer, schedule=args.schedule, weight_decay=args.weight_decay,
            label_smoothing=args.label_smoothing, augment=args.augment,
            image_size=args.image_size, mixed_precision=not args.no_amp, device=args.device,
            early_stopping=args.early_stopping, seed=args.seed, num_workers=args.workers,
        ),
    )


def _transfer_config(args: argparse.Namespace) -> Any:
    """The joint-training or adaptation settings; also settles the default strategy."""
    from ..core import TransferConfig

    if not hasattr(args, "target_unlabeled"):  # lr-find and compare: DATA alone
        return TransferConfig()
    adapting = bool(args.target_unlabeled)
    if args.joint_source and adapting:
        raise UsageError("choose --joint-source (joint training) or --target-unlabeled "
                         "(domain adaptation), not both")
    if args.adapt and not adapting:
        raise UsageError("--adapt needs --target-unlabeled DIR")
    args.strategy = args.strategy or ("fine-tune" if adapting else "linear-probe")
    if args.joint_source:
        return TransferConfig("joint", source_dir=str(Path(args.joint_source).resolve()),
                              source_weight=args.source_weight,
                              target_weight=args.target_weight)
    if adapting:
        return TransferConfig(args.adapt or "dann",
                              target_dir=str(Path(args.target_unlabeled).resolve()),
                              adapt_weight=args.adapt_weight)
    return TransferConfig()


def interruptible() -> Any:
    """A cancel token set by the first Ctrl-C (the run stops cleanly); a second one aborts."""
    from ..core import CancelToken

    token = CancelToken()

    def handler(_sig: int, _frame: Any) -> None:
        if token.cancelled:
            raise KeyboardInterrupt
        print("\nstopping (Ctrl-C again to abort)", file=sys.stderr)
        token.cancel()

    signal.signal(signal.SIGINT, handler)
    return token
