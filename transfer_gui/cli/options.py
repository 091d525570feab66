"""The training options that `train`, `lr-find` and `compare` share, and turning them into a
`RunConfig` (imports of the engine stay inside the functions: `--help` is instant).

The options are made from the settings' declarations (`option(...)` in the engine's config):
each setting's flag, default, allowed values and help come from there."""

from __future__ import annotations

import argparse
import signal
import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..core import RunConfig, TransferConfig


class UsageError(Exception):
    """A combination of options that makes no sense; reported as a usage error."""


# the sections of the help that `Cli.group` names
GROUPS = {
    "joint training": "DATA is the labelled target (its validation split measures the "
                      "result); each step's loss is A * L_source + B * L_target; an epoch is "
                      "one pass over the source",
    "domain adaptation": "DATA is the labelled source (its validation split is source "
                         "images); the backbone must train (the strategy defaults to fine-tune)",
}


def add_recipe_args(p: argparse.ArgumentParser) -> None:
    """The model and training options shared by train, lr-find and compare."""
    from ..core import DataConfig, ModelConfig, TrainConfig

    _add_options(p, (ModelConfig, TrainConfig, DataConfig))


def add_transfer_args(p: argparse.ArgumentParser) -> None:
    from ..core import TransferConfig

    _add_options(p, (TransferConfig,))
    p.set_defaults(strategy=None)  # resolved in _transfer_config


def add_run_setting(p: argparse.ArgumentParser, name: str, section: str = "TrainConfig",
                    **override: Any) -> None:
    """The option of a `section`'s setting `name` for a command other than training
    (evaluate, predict, check-data, inspect): its flag, default, type and choices as declared,
    without the words it shares with other settings; `override` replaces what only fits
    training (its help)."""
    from .. import core

    opt = core.option_named(getattr(core, section), name)
    cli = opt.command_line
    if cli is None:
        raise ValueError(f"TrainConfig.{name} has no command-line option")
    p.add_argument(cli.flag, dest=opt.name, **{"help": cli.help, **_argument(opt, [opt]),
                                                **override})


def add_tensorboard_arg(p: argparse.ArgumentParser) -> None:
    """`--tensorboard DIR`: where a training command logs for TensorBoard. Not a setting of the
    recipe (nothing of the model depends on it), so not declared with the settings."""
    p.add_argument("--tensorboard", metavar="DIR",
                   help="also log each run for TensorBoard, into DIR/<run folder name> "
                        "(view with: tensorboard --logdir DIR); needs the tensorboard extra")


def tensorboard_dir(args: argparse.Namespace, run: str | Path) -> str | None:
    """The folder a run logs into for TensorBoard (None: not asked for). Refuses, before
    anything is trained, when the tensorboard package is missing."""
    from ..core import require_tensorboard

    if not getattr(args, "tensorboard", None):
        return None
    require_tensorboard()
    return str(Path(args.tensorboard) / Path(run).resolve().name)


def _flags(classes: tuple[type, ...]) -> dict[str, list[Any]]:
    """The settings of `classes` by their command-line flag, in order; settings that share
    a flag share one option."""
    from ..core import options_of

    flags: dict[str, list[Any]] = {}
    for cls in classes:
        for opt in options_of(cls):
            if opt.command_line is not None:
                flags.setdefault(opt.command_line.flag, []).append(opt)
    return flags


def _main(options: list[Any]) -> Any:
    """The setting an option stores its value for (not one set by a word of it)."""
    return next(o for o in options if not o.command_line.word)


def _add_options(p: argparse.ArgumentParser, classes: tuple[type, ...]) -> None:
    flags = _flags(classes)
    used = {opts[0].command_line.group for opts in flags.values()}
    groups = {title: p.add_argument_group(title, text) for title, text in GROUPS.items()
              if title in used}
    for flag, options in flags.items():
        main = _main(options)
        cli = main.command_line
        where = groups[cli.group] if cli.group else p
        where.add_argument(flag, dest=main.name, help=cli.help, **_argument(main, options))


def _argument(main: Any, options: list[Any]) -> dict[str, Any]:
    """What argparse needs to read one setting (and those sharing its flag)."""
    from ..core import NOTHING

    cli = main.command_line
    if cli.const is not NOTHING:
        return {"action": "store_const", "const": cli.const, "default": main.default}
    if cli.words is not None:
        return {"choices": list(cli.words), "metavar": cli.metavar}
    out: dict[str, Any] = {"default": main.default, "metavar": cli.metavar}
    if main.choices:
        out["choices"] = [c for c in main.choices if c is not None]
    else:  # named after the flag, not the setting (--workers WORKERS)
        out["metavar"] = cli.metavar or cli.flag.lstrip("-").replace("-", "_").upper()
    words = [o.command_line.word for o in options if o.command_line.word]
    if words:
        out["type"] = partial(_number_or_word, main.kind, words[0])
    elif main.kind in (int, float):
        out["type"] = main.kind
    return out


def _number_or_word(kind: type, word: str, text: str) -> Any:
    if text == word:
        return text
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or {word!r}, not {text!r}") from None


def _values(cls: type, args: argparse.Namespace) -> dict[str, Any]:
    """The settings of `cls` that the parsed options give."""
    from ..core import DataConfig, ModelConfig, TrainConfig, TransferConfig, options_of

    flags = _flags((ModelConfig, TrainConfig, DataConfig, TransferConfig))
    out: dict[str, Any] = {}
    for opt in options_of(cls):
        cli = opt.command_line
        main = _main(flags[cli.flag]) if cli is not None else None
        if cli is None or main is None or not hasattr(args, main.name):
            continue
        given = getattr(args, main.name)
        words = {o.command_line.word for o in flags[cli.flag]
                 if o.command_line is not None and o.command_line.word}
        if cli.word:
            out[opt.name] = given == cli.word
        elif cli.words is not None:
            if given is not None:
                out[opt.name] = cli.words[given]
        else:  # a word of a shared option (--batch-size auto) leaves the number's default
            out[opt.name] = opt.default if given in words else given
    return out


def train_config(args: argparse.Namespace) -> RunConfig:
    from ..core import DataConfig, ModelConfig, RunConfig, TrainConfig

    transfer = _transfer_config(args)
    return RunConfig(
        transfer=transfer,
        data=DataConfig(root=str(Path(args.data).resolve()), **_values(DataConfig, args)),
        model=ModelConfig(**_values(ModelConfig, args)),
        train=TrainConfig(**_values(TrainConfig, args)),
    )


def _transfer_config(args: argparse.Namespace) -> TransferConfig:
    """The joint-training or adaptation settings; also settles the default strategy."""
    from ..core import TransferConfig

    if not hasattr(args, "target_dir"):  # lr-find and compare: DATA alone
        return TransferConfig()
    adapting = bool(args.target_dir)
    if args.source_dir and adapting:
        raise UsageError("choose --joint-source (joint training) or --target-unlabeled "
                         "(domain adaptation), not both")
    if args.mode and not adapting:
        raise UsageError("--adapt needs --target-unlabeled DIR")
    # DANN and CORAL change the backbone's features: it must train; the statistics methods
    # (auto's choice) adapt a probe
    gradient = str(args.mode or "auto").split("+")[0] in ("dann", "coral")
    args.strategy = args.strategy or ("fine-tune" if adapting and gradient else "linear-probe")
    if args.source_dir:
        return TransferConfig("joint", source_dir=str(Path(args.source_dir).resolve()),
                              source_weight=args.source_weight,
                              target_weight=args.target_weight)
    if adapting:
        return TransferConfig(args.mode or "auto", target_dir=str(Path(args.target_dir).resolve()),
                              adapt_weight=args.adapt_weight, adapt_layers=args.adapt_layers)
    return TransferConfig()


def interruptible(speaks: bool = True) -> Any:
    """A cancel token set by the first Ctrl-C (the run stops cleanly); a second one aborts.
    SIGTERM (what `torchrun` and batch systems send to stop a job) stops cleanly too.
    `speaks`: whether this process says so (one of several processes: only rank 0)."""
    from ..core import CancelToken

    token = CancelToken()

    def handler(sig: int, _frame: Any) -> None:
        if token.cancelled and sig == signal.SIGINT:
            raise KeyboardInterrupt
        if speaks and not token.cancelled:
            print("\nstopping (Ctrl-C again to abort)", file=sys.stderr)
        token.cancel()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return token
