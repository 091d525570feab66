"""Evaluating a trained model on labelled images."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from ..data.batches import prefetch, sequential
from ..data.datasets import ImageDataset, eval_transform
from ..data.images import why_unusable
from ..data.labels import LabelTask, csv_file, needs_targets, remap, scan_data
from ..data.scan import DataError, Problem, Sample, find_split_dirs, scan_folder
from ..data.trainable import csv_no_rows
from ..events import Callback, CancelToken, Work
from ..interrupt import cancel_points
from ..io.bundle import LoadedRun, load_run, load_split, save_meta
from ..io.runmeta import RunError
from ..models.heads import probabilities
from ..train.features import FeatureRequest, body_features, existing_store, head_probabilities
from ..train.recipe import amp_dtype, autocast, channels_last_for, pick_device
from ..wording import count
from .metrics import EvalResult, build_result
from .tasks import LabelTable, best_thresholds, results_dict, task_results


@torch.no_grad()
def predict_samples(
    run: LoadedRun,
    samples: Sequence[Sample],
    batch_size: int = 32,
    device: str = "auto",
    task: Work | None = None,
) -> np.ndarray:
    """Class probabilities (N x C) for `samples`, in order; the row of a file that cannot
    be read is NaN. Cancellation is checked inside the forward pass too.

    When the model's body has cached features (it is a pretrained body used frozen, as in a
    linear probe), they are reused and only the images without any are run through it.
    """
    task = task or Work()
    dev = pick_device(device)
    model = run.model.to(dev).eval()
    dtype = amp_dtype(dev, True)
    store = existing_store(model, run.spec.name, run.preprocess, dev, dtype)
    if store is not None:
        request = FeatureRequest(samples, run.preprocess, batch_size, dev, dtype,
                                 phase="evaluate")
        with cancel_points(model, task):
            feats, failed = body_features(model, request, store, task)
        probs = head_probabilities(model, feats, dev, dtype)
        probs[failed] = float("nan")
        return probs
    fmt = torch.channels_last if channels_last_for(dev) else torch.contiguous_format
    model.to(memory_format=fmt)
    dataset = ImageDataset(samples, run.preprocess, eval_transform(run.preprocess))
    loader = DataLoader(dataset, batch_sampler=sequential(len(dataset), batch_size))
    parts, done = [], 0
    with cancel_points(model, task):
        for x, _, loaded in prefetch(loader):  # the next batch decodes while this one runs
            task.check()
            with autocast(dev, dtype):
                logits = model(x.to(dev, memory_format=fmt)).float()
                chunk = probabilities(model.head, logits).cpu()
            chunk[~loaded] = float("nan")
            parts.append(chunk)
            done += len(x)
            task.progress(done, len(dataset), "evaluate")
    if not parts:
        return np.zeros((0, model.num_classes), dtype=np.float32)
    return torch.cat(parts).numpy()


@dataclass
class Evaluation:
    result: EvalResult  # a run of several tasks: its first single-label task's
    source: str  # what was evaluated, in words
    problems: list[Problem] = field(default_factory=list)
    tasks: dict[str, EvalResult | LabelTable] = field(default_factory=dict)  # by column name

    def tasks_dict(self) -> dict[str, Any]:
        """Every task's figures under its column name ({} for a run of one plain task)."""
        return results_dict(self.tasks)


def _same_folder(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def evaluation_samples(
    run: LoadedRun,
    data: str | None,
    task: Work,
    use_all: bool = False,
    image_root: str | None = None,
) -> tuple[list[Sample], str, list[Problem]]:
    """Which labelled images to evaluate on.

    A folder with a test/ part (train/ beside test/, see `data.layout`) means that test
    folder, kept apart from training. Otherwise the folder the run was trained on (or none
    given) means the run's own validation split, so training images never inflate the score;
    any other folder is evaluated whole (its `val/` part for a train/val layout), its classes
    matched to the run's by name. `use_all`: every image of the folder, test/ included. A
    labels CSV is read like training reads it (`image_root`: where its paths lead from).
    """
    config = run.meta.get("config")
    data_config = config.get("data") if isinstance(config, dict) else None
    trained_on = data_config.get("root", "") if isinstance(data_config, dict) else ""
    if image_root is None and isinstance(data_config, dict) and _same_folder(data or "",
                                                                              trained_on):
        image_root = data_config.get("image_root")  # the run's own CSV: read as it trained
    split = find_split_dirs(Path(data)) if data is not None else None
    if split is not None and split.test is not None and not use_all:
        return _labelled(run, str(split.test), task, f"the test folder {split.test}")
    if data is None or (_same_folder(data, trained_on) and not use_all):
        _, val = load_split(run.run_dir, data or None)
        if val:
            return val, f"the run's validation split ({count(len(val), 'image')})", []
        if data is None:
            raise DataError("the run has no validation split: give a folder to evaluate on")
    return _labelled(run, data, task, data, use_all, image_root)


def _labelled(run: LoadedRun, data: str, task: Work, name: str, use_all: bool = False,
              image_root: str | None = None) -> tuple[list[Sample], str, list[Problem]]:
    """The images of `data` whose classes the run knows, labelled by the run's classes."""
    if run.tasks or csv_file(data) is not None or image_root:
        return _from_table(run, data, task, name, image_root)
    scan = scan_folder(data, verify=True, callbacks=task)
    pool = [(s.path, scan.classes[s.label]) for s in
            (scan.val if scan.layout == "train-val" and not use_all else scan.samples)]
    problems = list(scan.problems)
    if use_all and scan.test_dir:
        test = scan_folder(scan.test_dir, verify=True, callbacks=task)
        pool += [(s.path, test.classes[s.label]) for s in test.samples]
        problems += test.problems
    index = {name: i for i, name in enumerate(run.classes)}
    for unknown in sorted({c for _, c in pool} - set(index)):
        images = sum(c == unknown for _, c in pool)
        problems.append(Problem(os.path.join(data, unknown), f"class {unknown!r} is not one "
                                f"the model knows: its {count(images, 'image')} are skipped",
                                files=images))
    samples = [Sample(path, index[c]) for path, c in pool if c in index]
    if not samples:
        raise DataError(f"{data} has no images of the classes the model knows "
                        f"({', '.join(run.classes)})")
    return samples, f"{name} ({count(len(samples), 'image')})", problems


def _from_table(run: LoadedRun, data: str, task: Work, name: str,
                image_root: str | None = None) -> tuple[list[Sample], str, list[Problem]]:
    """The rows of a labels CSV whose labels the run knows, relabelled as the run's. A run
    trained on class folders takes the CSV's first label column as its classes."""
    wanted = [t.name for t in run.tasks]
    if not run.tasks and csv_file(data) is None:  # (--image-root with an image folder)
        scan_data(data, task=None, image_root=image_root)  # says why not
    scan = scan_data(data, verify=True, callbacks=task, image_root=image_root,
                     task=wanted[0] if len(wanted) == 1 else None)
    problems = list(scan.problems)
    if not scan.tasks:
        raise DataError(f"{data} is an image folder; this run was trained on the columns "
                        f"{', '.join(wanted)} of a labels CSV: give a CSV with them")
    if not scan.samples:
        raise DataError(f"{scan.root}: {csv_no_rows(scan)}")
    known_tasks = run.tasks or [LabelTask(scan.tasks[0].name, tuple(run.classes))]
    missing = [t.name for t in known_tasks if t.name not in {t.name for t in scan.tasks}]
    if missing:
        raise DataError(f"{data} has no column {missing[0]!r}, which the run was trained on")
    samples = []
    for sample in scan.samples:
        known = remap(sample, scan.tasks, known_tasks)
        if known is None:
            problems.append(Problem(sample.path, "a label the model does not know: skipped"))
        else:
            samples.append(known)
    if not samples:
        raise DataError(f"{data} has no image whose labels the model knows")
    return samples, f"{name} ({count(len(samples), 'image')})", problems


def run_thresholds(run: LoadedRun, batch_size: int = 32, device: str = "auto",
                   task: Work | None = None) -> dict[str, list[float]]:
    """Each multi-label task's per-label thresholds: stored in `run.json`, or chosen on the
    run's validation split (the F1-best cut of each label) and stored there."""
    stored = run.meta.get("thresholds")
    multi = [t for t in run.tasks if t.multi_label]
    if isinstance(stored, dict) or not multi:
        return dict(stored or {})
    try:
        _, val = load_split(run.run_dir)
    except (OSError, DataError, RunError):
        val = []
    probs = predict_samples(run, val, batch_size, device, task) if val else np.zeros((0, 0))
    readable = [not np.isnan(row).any() for row in probs]
    if not any(readable):
        return {}
    val = [s for s, ok in zip(val, readable, strict=True) if ok]
    results = task_results(run.tasks, val, probs[readable])
    chosen = {t.name: best_thresholds(tab.truth, tab.probs) for t in multi
              if isinstance(tab := results[t.name], LabelTable)}
    run.meta["thresholds"] = chosen
    if run.meta.get("status") != "running":
        save_meta(run.run_dir, run.meta)
    return chosen


def evaluate_run(
    run_dir: str | os.PathLike[str] | LoadedRun,
    data: str | None = None,
    batch_size: int = 32,
    device: str = "auto",
    callbacks: Work | Iterable[Callback] = (),
    cancel: CancelToken | None = None,
    use_all: bool = False,
    image_root: str | None = None,
) -> Evaluation:
    """Evaluate a run on `data` (see `evaluation_samples`). `callbacks` may be a `Work`."""
    task = Work.of(callbacks, cancel)
    run = run_dir if isinstance(run_dir, LoadedRun) else load_run(run_dir)
    samples, source, problems = evaluation_samples(run, data, task, use_all, image_root)
    task.message("info", f"evaluating on {source}")
    probs = predict_samples(run, samples, batch_size, device, task)
    readable = ~np.isnan(probs).any(axis=1)
    for sample in (s for s, ok in zip(samples, readable, strict=True) if not ok):
        problems.append(Problem(sample.path, why_unusable(sample.path) or "could not be read"))
    samples = [s for s, ok in zip(samples, readable, strict=True) if ok]
    if not samples:
        raise DataError(f"none of the {count(len(readable), 'image')} to evaluate could be read")
    probs = probs[readable]
    if needs_targets(run.tasks):
        tables = task_results(run.tasks, samples, probs,
                              run_thresholds(run, batch_size, device, task))
        return Evaluation(_headline(run, samples, probs, tables), source, problems, tables)
    targets = np.array([s.label for s in samples], dtype=np.int64)
    result = build_result(run.classes, [s.path for s in samples], targets, probs)
    return Evaluation(result, source, problems)


def _headline(run: LoadedRun, samples: list[Sample], probs: np.ndarray,
              tables: dict[str, EvalResult | LabelTable]) -> EvalResult:
    """The result a view of one task shows first: the first single-label task's; for a
    multi-label task alone, its top label against each image's first listed label."""
    first = next((r for r in tables.values() if isinstance(r, EvalResult)), None)
    if first is not None:
        return first
    part = probs[:, : len(run.classes)]
    targets = np.array([s.label for s in samples], dtype=np.int64)
    return build_result(run.classes, [s.path for s in samples], targets, part)
