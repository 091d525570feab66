"""Project files: the data folder, backbone, freezing choice, hyperparameters and runs.

A project is JSON (never pickle). Paths are stored relative to the project file when they lie
beside it, so a project folder can be moved as a whole. Opening a project whose paths no longer
exist does not fail: the missing parts are listed in `Project.missing` for the UI to mark.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import atomic
from ..config import DataConfig, RunConfig, same_path
from ..errors import UserError
from ..places import data_home

FORMAT = 1
SUFFIX = ".tgproj"


Review = tuple[tuple[str, ...], tuple[str, ...]]  # (excluded files, "file=class" relabels)


class ProjectError(UserError, ValueError):
    """The project file cannot be read at all."""


@dataclass
class Project:
    config: RunConfig = field(default_factory=RunConfig)
    runs: list[str] = field(default_factory=list)  # run folders, oldest first
    last_run: str | None = None
    path: str | None = None  # where the project was loaded from or saved to
    missing: list[str] = field(default_factory=list)  # "what: path" for paths not found
    extra: dict[str, Any] = field(default_factory=dict)  # UI state worth keeping
    # the review decisions made on folders other than the current one: {root: (exclude,
    # relabel)}, so going back to a folder brings its own decisions back
    reviews: dict[str, Review] = field(default_factory=dict)

    def add_run(self, run_dir: str) -> None:
        if run_dir not in self.runs:
            self.runs.append(run_dir)
        self.last_run = run_dir

    def data_on(self, root: str) -> DataConfig:
        """The data settings moved to the folder (or CSV) `root`: the current folder's review
        decisions are kept aside for it, and those made on `root` before come back."""
        data = self.config.data
        if same_path(root, data.root):
            return data
        if data.root and (data.exclude or data.relabel):
            self.reviews[data.root] = (data.exclude, data.relabel)
        key = next((k for k in self.reviews if same_path(k, root)), None)
        exclude, relabel = self.reviews.pop(key) if key is not None else ((), ())
        return dataclasses.replace(data, root=root, reviewed=root, exclude=exclude,
                                   relabel=relabel)


def _store(path: str | None, base: Path) -> str | None:
    if not path:
        return path
    try:
        rel = os.path.relpath(path, base)
    except ValueError:  # another drive on Windows
        return path
    return rel if not rel.startswith("..") else os.path.abspath(path)


def _restore(path: str | None, base: Path) -> str | None:
    if not path:
        return path
    return str(Path(path) if os.path.isabs(path) else (base / path).resolve())


def save_project(project: Project, path: str | os.PathLike[str]) -> None:
    path = Path(path)
    base = path.parent.resolve()
    config = project.config
    root = _store(config.data.root, base) or ""
    # the review's folder is the root: stored the same way, so it still matches on load
    data = dataclasses.replace(config.data, root=root, reviewed=config.data.reviewed and root,
                               val_dir=_store(config.data.val_dir, base))
    model = dataclasses.replace(config.model,
                                weights_file=_store(config.model.weights_file, base))
    transfer = dataclasses.replace(config.transfer,
                                   source_dir=_store(config.transfer.source_dir, base),
                                   target_dir=_store(config.transfer.target_dir, base))
    payload = {
        "format": FORMAT,
        "app": "transfer_gui",
        "config": RunConfig(data, model, config.train, transfer).to_dict(),
        "runs": [_store(r, base) for r in project.runs],
        "last_run": _store(project.last_run, base),
        "extra": project.extra,
        "reviews": [{"root": _store(root, base), "exclude": list(exclude),
                     "relabel": list(relabel)}
                    for root, (exclude, relabel) in project.reviews.items()],
    }
    atomic.write_json(path, payload)
    project.path = str(path)


def load_project(path: str | os.PathLike[str]) -> Project:
    path = Path(path)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProjectError(f"project file not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProjectError(f"{path} is not a readable project file: {exc}") from None
    if not isinstance(payload, dict) or payload.get("app") != "transfer_gui":
        raise ProjectError(f"{path} is not a transfer_gui project")
    base = path.parent.resolve()
    try:
        config = RunConfig.from_dict(payload.get("config"))
        _check_paths(config)
    except (TypeError, ValueError, AttributeError) as exc:
        raise ProjectError(f"{path} holds an invalid configuration: {exc}") from None
    root = _restore(config.data.root, base) or ""
    config = dataclasses.replace(
        config,
        data=dataclasses.replace(config.data, root=root, reviewed=config.data.reviewed and root,
                                 val_dir=_restore(config.data.val_dir, base)),
        model=dataclasses.replace(config.model,
                                  weights_file=_restore(config.model.weights_file, base)),
        transfer=dataclasses.replace(config.transfer,
                                     source_dir=_restore(config.transfer.source_dir, base),
                                     target_dir=_restore(config.transfer.target_dir, base)),
    )
    runs = [r for r in (_restore(r, base) for r in _strings(payload.get("runs"))) if r]
    last = payload.get("last_run")
    extra = v if isinstance(v := payload.get("extra"), dict) else {}
    project = Project(config, runs, _restore(last, base) if isinstance(last, str) else None,
                      str(path), extra=extra, reviews=_reviews(payload.get("reviews"), base))
    project.missing = find_missing(project)
    return project


def _reviews(value: Any, base: Path) -> dict[str, Review]:
    """The other folders' review decisions of a project file (malformed entries skipped)."""
    out: dict[str, Review] = {}
    for entry in value if isinstance(value, list) else []:
        root = entry.get("root") if isinstance(entry, dict) else None
        if isinstance(root, str) and root:
            out[_restore(root, base) or root] = (tuple(_strings(entry.get("exclude"))),
                                                 tuple(_strings(entry.get("relabel"))))
    return out


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _check_paths(config: RunConfig) -> None:
    for what, value in (("data root", config.data.root), ("validation folder",
                        config.data.val_dir), ("weights file", config.model.weights_file)):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"the {what} must be a path, not {value!r}")


def find_missing(project: Project) -> list[str]:
    """Human-readable entries for each path of the project that does not exist."""
    config = project.config
    checks = [("data folder", config.data.root), ("validation folder", config.data.val_dir),
              ("weights file", config.model.weights_file),
              ("source folder", config.transfer.source_dir),
              ("target folder", config.transfer.target_dir)]
    checks += [("run", r) for r in project.runs]
    return [f"{what}: {p}" for what, p in checks if p and not os.path.exists(p)]


def runs_folder(project: Project) -> Path:
    """A saved project keeps its runs beside it; an unsaved one in the user's data folder."""
    if project.path:
        path = Path(project.path)
        return path.parent / f"{path.stem}-runs"
    return data_home() / "runs"


def tensorboard_folder(project: Project) -> Path:
    """Where the window's runs log for TensorBoard (each in a sub-folder named like its run
    folder): `tensorboard` beside a saved project's file, else beside the unsaved projects'
    runs folder, in the user's data folder."""
    return (Path(project.path).parent if project.path else data_home()) / "tensorboard"


def new_run_dir(project: Project, backbone: str, strategy: str) -> Path:
    import time

    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = re.sub(r"[^\w.+-]+", "-", backbone)  # "timm/convnext..." is no sub-folder
    base = runs_folder(project) / f"{stamp}-{name}-{strategy}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate
