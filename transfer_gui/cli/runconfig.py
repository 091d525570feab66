"""Where a `train` command's configuration comes from besides its options: a saved run
configuration (`--config`) and a review of the data (`--review`)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .options import UsageError

if TYPE_CHECKING:
    from ..core import RunConfig


def saved_config(args: argparse.Namespace, defaults: dict[str, Any]) -> RunConfig:
    """The configuration `--config` names, its data folder replaced by DATA when given. The
    recipe is the file's alone: an option that would change it (one whose value differs from
    the parser's `defaults` for `train`) is refused."""
    from ..core import DataConfig, load_run_config

    own = {"data", "out", "resume", "config", "overwrite", "json", "tensorboard",
           "continue_run"}
    changed = sorted(k for k, v in vars(args).items()
                     if k not in own and k in defaults and defaults[k] != v)
    if changed:
        flags = ", ".join("--" + k.replace("_", "-") for k in changed)
        raise UsageError(f"--config trains the saved configuration as it is: leave out "
                         f"{flags} (or change the configuration in the window)")
    config = load_run_config(args.config)
    if args.data:
        root = str(Path(args.data).resolve())
        config = dataclasses.replace(config, data=dataclasses.replace(config.data, root=root))
    elif not config.data.root:
        raise UsageError(f"{args.config} names no image folder: give DATA")
    assert isinstance(config.data, DataConfig)
    return config


def with_review(config: RunConfig, review: str | None) -> RunConfig:
    """`config` with the review's exclusions and relabels (a `--review FILE`), if any."""
    if not review:
        return config
    from ..core import read_review

    exclude, relabel = read_review(review)
    data = dataclasses.replace(config.data, exclude=exclude, relabel=relabel)
    return dataclasses.replace(config, data=data)
