"""Reading a run folder's metadata without importing torch (fast, for the GUI thread)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import atomic
from ..config import RunConfig
from ..errors import UserError
from ..schema import ConfigError
from .writer import writer_gone

META = "run.json"
WEIGHTS = "model.safetensors"
CHECKPOINT = "checkpoint.pt"
SPLIT = "split.json"


class RunError(UserError, ValueError):
    """A run folder is missing, incomplete or damaged."""


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{path} not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunError(f"{path} cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise RunError(f"{path} does not hold a JSON object")
    return data


def read_meta(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    run_dir = Path(run_dir)
    if not (run_dir / META).is_file():
        raise RunError(f"{run_dir} is not a run folder (no {META})")
    meta = read_json(run_dir / META)
    for key in ("backbone", "classes", "preprocess"):
        if key not in meta:
            raise RunError(f"{run_dir / META} lacks {key!r}")
    return meta


def run_revision(run_dir: str | os.PathLike[str]) -> tuple[int, int]:
    """Changes whenever the run's `run.json` or weights are written again (an epoch ended, the
    run was resumed or stopped): what is computed from a run is keyed on it, not on the
    folder alone. (0, 0) for a folder without them."""
    folder = Path(run_dir)
    return _mtime_ns(folder / META), _mtime_ns(folder / WEIGHTS)


def _mtime_ns(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def can_resume(run_dir: str | os.PathLike[str]) -> bool:
    """A stopped, failed or killed run with a checkpoint and epochs left to do."""
    run_dir = Path(run_dir)
    if not (run_dir / CHECKPOINT).is_file():
        return False
    try:
        meta = read_meta(run_dir)
    except RunError:
        return False
    epochs = (meta.get("config", {}).get("train", {}) or {}).get("epochs") or 0
    return meta.get("status") != "completed" and meta.get("epochs_done", 0) < epochs


@dataclass(frozen=True)
class RunInfo:
    """What a window shows of a run folder, read from its `run.json`."""

    folder: str
    classes: tuple[str, ...]
    image_size: int
    strategy: str
    status: str
    epochs_done: int
    best_val_acc: float | None
    history: tuple[dict[str, Any], ...]  # one row per finished epoch
    weights: str | None  # the best weights file, when it is there

    @property
    def name(self) -> str:
        return os.path.basename(os.path.normpath(self.folder))


INTERRUPTED = "interrupted"  # run.json says running, but its writer is gone


def run_info(run_dir: str | os.PathLike[str]) -> RunInfo:
    """A run folder's figures; RunError when it is no readable run folder. A run whose
    run.json says "running" while its writer is gone (killed, its computer stopped:
    `runlock.writer_gone`) is "interrupted"."""
    # the lock first: a writer holds it from before run.json says "running" until after it
    # says how the run ended, so free before a read that still says "running" means killed
    gone = writer_gone(run_dir)
    meta = read_meta(run_dir)
    status = str(meta.get("status", "?"))
    config = v if isinstance(v := meta.get("config"), dict) else {}
    best = v if isinstance(v := meta.get("best"), dict) else {}
    acc = best.get("val_acc")
    history = v if isinstance(v := meta.get("history"), list) else []
    return RunInfo(
        folder=str(run_dir),
        classes=tuple(str(c) for c in meta["classes"] or ()),
        image_size=int((meta["preprocess"] or {}).get("image_size") or 0),
        strategy=str((config.get("model") or {}).get("strategy") or ""),
        status=INTERRUPTED if status == "running" and gone else status,
        epochs_done=int(meta.get("epochs_done") or 0),
        best_val_acc=float(acc) if isinstance(acc, int | float) else None,
        history=tuple(r for r in history if isinstance(r, dict)),
        weights=saved_weights(run_dir),
    )


def saved_weights(run_dir: str | os.PathLike[str]) -> str | None:
    """The path of a run's best weights file, or None when it has none."""
    path = Path(run_dir) / WEIGHTS
    return str(path) if path.is_file() else None


RUN_CONFIG_FORMAT = 1  # the version of an exported run configuration


def save_run_config(path: str | os.PathLike[str], config: RunConfig) -> None:
    """Write `config` as a run configuration file (what `train --config` reads), atomically."""
    atomic.write_json(path, {"app": "transfer_gui", "run_config": RUN_CONFIG_FORMAT,
                             "config": config.to_dict()})


def load_run_config(path: str | os.PathLike[str]) -> RunConfig:
    """The run configuration in `path`: a file the window exported, a run folder's `run.json`
    (the configuration it was started with), or a run folder itself. RunError or ConfigError
    say what is wrong with it."""
    path = Path(path)
    if path.is_dir():
        path = path / META
    data = read_json(path)
    config = data.get("config") if "config" in data else data
    if not isinstance(config, dict) or not {"data", "model", "train"} & set(config):
        raise RunError(f"{path} holds no run configuration (expected a file exported from the "
                       f"window or a run folder's {META})")
    try:
        return RunConfig.from_dict(config)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except (TypeError, AttributeError, ValueError) as exc:
        raise RunError(f"{path} holds no usable run configuration ({exc})") from None
