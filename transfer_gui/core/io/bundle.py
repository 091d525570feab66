"""The run folder: a trained model that can be evaluated, used and reopened later.

    RUN/run.json           metadata: backbone, classes, preprocessing, configuration, history
    RUN/model.safetensors  the best weights (safetensors: loading cannot run code)
    RUN/checkpoint.pt      the last finished epoch, to resume (read with weights_only=True)
    RUN/split.json         the exact train and validation file lists

Every file is written atomically.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .. import atomic
from ..data.datasets import Preprocess
from ..data.labels import LabelTask, data_folder, needs_targets
from ..data.scan import Sample
from ..models.backbones import BackboneSpec, TransferNet, get_spec
from ..models.weights import WeightsError, build_model, load_into, read_state_dict
from .runmeta import CHECKPOINT, META, SPLIT, WEIGHTS, RunError, read_json, read_meta

FORMAT = 1


def save_weights(run_dir: str | os.PathLike[str], model: TransferNet,
                 epoch: int | None = None, val_acc: float | None = None) -> None:
    """The weights, durable on disk when this returns; the file itself names the epoch and
    figure it holds, so a record can be checked against it."""
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {"format": "transfer_gui"}
    if epoch is not None:
        meta["epoch"] = str(epoch)
    if val_acc is not None:
        meta["val_acc"] = repr(float(val_acc))
    with atomic.atomic_path(Path(run_dir) / WEIGHTS) as tmp:
        save_file(state, str(tmp), metadata=meta)


def saved_epoch(run_dir: str | os.PathLike[str]) -> int | None:
    """The epoch the weights file says it holds (None: no file, or one that does not say)."""
    from safetensors import safe_open

    try:
        with safe_open(str(Path(run_dir) / WEIGHTS), framework="pt") as handle:
            epoch = (handle.metadata() or {}).get("epoch", "")
    except Exception:  # noqa: BLE001 - missing or unreadable: it names no epoch
        return None
    return int(epoch) if epoch.isdigit() else None


def save_meta(run_dir: str | os.PathLike[str], meta: dict[str, Any]) -> None:
    meta = {"format": FORMAT, **meta, "updated": time.strftime("%Y-%m-%dT%H:%M:%S")}
    atomic.write_json(Path(run_dir) / META, meta)


def save_checkpoint(run_dir: str | os.PathLike[str], state: dict[str, Any]) -> None:
    # the file is ours to close: a failed torch.save (a full disk) otherwise keeps it open
    # while the exception lives, and a removed but open file still holds its disk space
    with atomic.atomic_path(Path(run_dir) / CHECKPOINT) as tmp, open(tmp, "wb") as handle:
        torch.save(state, handle)


def has_checkpoint(run_dir: str | os.PathLike[str]) -> bool:
    return (Path(run_dir) / CHECKPOINT).is_file()


def load_checkpoint(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(run_dir) / CHECKPOINT
    if not path.is_file():
        raise RunError(f"{run_dir} has no checkpoint to resume from")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - whatever the reason, the file is not usable
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunError(f"the checkpoint in {run_dir} was refused (it may contain code, or be "
                       f"damaged): {first}") from None
    parts = {"model": dict, "optimizer": dict, "scheduler": dict, "state": dict}
    if not isinstance(data, dict) or any(not isinstance(data.get(k), t)
                                         for k, t in parts.items()):
        raise RunError(f"the checkpoint in {run_dir} is incomplete or not one of this app's")
    if not all(isinstance(v, torch.Tensor) for v in data["model"].values()):
        raise RunError(f"the checkpoint in {run_dir} holds a damaged model state")
    return data


def save_split(run_dir: str | os.PathLike[str], root: str, train: list, val: list,
               name: str = SPLIT) -> None:
    """Write a file list (by default the run's split) with paths relative to `root`."""

    root = data_folder(root) if root else root  # a labels CSV: paths from its folder

    def rows(samples: list[Sample]) -> list[list]:
        return [[_relative(s.path, root), s.label, *([list(s.targets)] if s.targets else [])]
                for s in samples]

    atomic.write_json(Path(run_dir) / name, {"root": root, "train": rows(train), "val": rows(val)})


def load_split(run_dir: str | os.PathLike[str], root: str | None = None,
               name: str = SPLIT) -> tuple[list, list]:
    """The run's train and validation samples, re-rooted at `root` if the data moved."""
    data = read_json(Path(run_dir) / name)
    base = data_folder(root) if root else data.get("root", "")

    def samples(rows: list) -> list[Sample]:
        return [Sample(os.path.join(base, row[0]), int(row[1]),
                       targets=tuple(float(v) for v in row[2]) if len(row) > 2 else ())
                for row in rows]

    try:
        return samples(data.get("train", [])), samples(data.get("val", []))
    except (TypeError, ValueError, IndexError) as exc:
        raise RunError(f"{Path(run_dir) / name} is damaged: {exc}") from None


def _relative(path: str, root: str) -> str:
    try:
        return os.path.relpath(path, root) if root else path
    except ValueError:
        return path


@dataclass
class LoadedRun:
    run_dir: Path
    meta: dict[str, Any]
    spec: BackboneSpec
    model: TransferNet
    classes: list[str]
    preprocess: Preprocess
    tasks: list[LabelTask] = field(default_factory=list)  # a labels CSV's columns

    @property
    def history(self) -> list[dict[str, Any]]:
        return list(self.meta.get("history", []))


def meta_tasks(meta: dict[str, Any]) -> list[LabelTask]:
    """The label columns `run.json` describes ([] for a folder of classes)."""
    rows = meta.get("tasks")
    try:
        return [LabelTask.from_dict(r) for r in rows] if isinstance(rows, list) else []
    except (KeyError, TypeError, AttributeError) as exc:
        raise RunError(f"run.json describes damaged tasks: {exc}") from None


def _check_head(state: dict[str, torch.Tensor], classes: int, run_dir: Path) -> None:
    head = state.get("head.weight")
    if head is not None and head.ndim == 2 and head.shape[0] != classes:
        raise RunError(f"{run_dir / WEIGHTS} was trained for {head.shape[0]} classes but "
                       f"{run_dir / META} lists {classes}: the two files do not belong together")


def load_run(run_dir: str | os.PathLike[str]) -> LoadedRun:
    """Rebuild the trained model of `run_dir` on the CPU, in eval mode."""
    run_dir = Path(run_dir)
    meta = read_meta(run_dir)
    try:
        spec = get_spec(meta["backbone"])
        classes = [str(c) for c in meta["classes"]]
        pre = Preprocess.from_dict(meta["preprocess"])
    except (KeyError, TypeError, ValueError) as exc:
        raise RunError(f"{run_dir / META} is damaged: {exc}") from None
    if not (run_dir / WEIGHTS).is_file():
        raise RunError(f"{run_dir} has no trained weights ({WEIGHTS})")
    model = build_model(spec, len(classes), pretrained=False)
    tasks = meta_tasks(meta)
    if needs_targets(tasks):
        from ..models.heads import MultiHead
        model.head = MultiHead(model.feature_dim, [t.name for t in tasks],
                               [len(t.classes) for t in tasks], [t.multi_label for t in tasks])
    head = meta.get("head")
    if isinstance(head, dict) and head.get("type") == "knn":
        from ..models.heads import knn_head_from_meta

        try:
            model.head = knn_head_from_meta(head, model.feature_dim, len(classes))
        except (KeyError, TypeError, ValueError) as exc:
            raise RunError(f"{run_dir / META} describes a damaged k-NN head: {exc}") from None
    try:
        state = read_state_dict(run_dir / WEIGHTS)
        if not needs_targets(tasks):
            _check_head(state, len(classes), run_dir)
        load_into(model, state, f"{run_dir / WEIGHTS}")
    except WeightsError as exc:
        raise RunError(str(exc)) from None
    model.eval()
    return LoadedRun(run_dir, meta, spec, model, classes, pre, tasks)
