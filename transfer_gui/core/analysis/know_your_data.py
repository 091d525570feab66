"""Know your data: a folder's images seen through a network, before (and after) training.

`data_features` scans the folder, splits it as a run would (the review's exclusions and
relabels not applied: the review must still see those images as they are on disk) and takes
the frozen backbone's pooled features of every image from the feature cache, computing only
those it lacks. `inspect` turns them into the three answers: a 2-D map with a separability
figure, the likely label errors, and the near-duplicate pairs. `run_features` gives the same
rows from a trained run's body (the input of its head), for the map of what training changed.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from ..config import DataConfig
from ..data.datasets import Preprocess
from ..data.labels import scan_data
from ..data.scan import DataError, FolderScan, Problem, Sample
from ..data.split import relative_name, training_split
from ..data.trainable import require_trainable
from ..events import CancelToken, Work
from ..io.bundle import load_run
from ..models.backbones import get_spec
from ..models.weights import build_model
from ..train.features import FeatureRequest, body_features, open_store
from ..train.recipe import amp_dtype, pick_device
from .embedding import embed, separability
from .labelissues import DEFAULT_METHOD, LabelIssue, label_issues
from .neardups import THRESHOLD, NearDuplicate, near_duplicates

DUPLICATE_THRESHOLD = THRESHOLD  # the default cut, for the window's control


@dataclass
class DataFeatures:
    """One feature row per usable image of a folder, with its class and side of the split."""

    root: str
    classes: list[str]
    samples: list[Sample]
    split: list[str]  # "train" or "validation", per sample
    features: np.ndarray  # N x D float32
    backbone: str
    unreadable: list[int] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # the scan's, exact duplicates too
    pre: Preprocess | None = None  # how the images became inputs (the trained map reuses it)

    @property
    def labels(self) -> np.ndarray:
        return np.array([s.label for s in self.samples], dtype=int)

    def name(self, index: int) -> str:
        """The file of row `index` as the review stores it (relative to the folder)."""
        return relative_name(self.root, self.samples[index].path)


@dataclass
class Inspection:
    data: DataFeatures
    coords: np.ndarray  # N x 2
    separability: float | None  # cross-validated k-NN accuracy on the features
    issues: list[LabelIssue]  # every image, most likely mislabelled first
    duplicates: list[NearDuplicate]
    seconds: dict[str, float] = field(default_factory=dict)
    threshold: float = THRESHOLD  # the cosine from which a pair is a near-duplicate

    @property
    def flagged(self) -> list[LabelIssue]:
        return [issue for issue in self.issues if issue.flagged]

    def exact_duplicates(self) -> list[Problem]:
        """The scan's byte-identical copies (what `check-data` reports)."""
        return [p for p in self.data.problems if "same" in p.reason and p.severity == "warning"]


def _split(scan: FolderScan, data: DataConfig) -> tuple[list[Sample], list[str]]:
    train, val = training_split(scan, data.val_split, data.seed, data.folder_split)
    return [*train, *val], ["train"] * len(train) + ["validation"] * len(val)


def data_features(data: DataConfig | str, backbone: str = "efficientnet_lite0",
                  device: str = "auto", batch_size: int = 32, callbacks: Work | Iterable = (),
                  cancel: CancelToken | None = None,
                  image_size: int | None = None) -> DataFeatures:
    """The frozen pretrained backbone's features of every usable image of the folder, at
    `image_size` (the training recipe's, so that they are the features a probe caches; None:
    the backbone's own size)."""
    task = Work.of(callbacks, cancel)
    data = DataConfig(root=data) if isinstance(data, str) else data
    scan = scan_data(data.root, verify=True, val_dir=data.val_dir, callbacks=task,
                     task=data.task, image_root=data.image_root)
    require_trainable(scan)
    if scan.tasks and scan.tasks[0].multi_label:
        raise DataError(f"column {scan.tasks[0].name!r} of {data.root} gives several labels "
                        "per image: inspecting needs one class per image (--task picks a "
                        "column)")
    samples, split = _split(scan, data)
    spec = get_spec(backbone)
    pre = Preprocess.for_backbone(spec, image_size)
    model = build_model(spec, len(scan.classes), True, None, task)
    dev = pick_device(device)
    model = model.to(dev).eval()
    dtype = amp_dtype(dev, True)
    store = open_store(model, backbone, pre, dev, dtype, task)
    request = FeatureRequest(samples, pre, batch_size, dev, dtype, phase="features")
    feats, failed = body_features(model, request, store, task)
    return DataFeatures(scan.root, list(scan.classes), samples, split,
                        feats.numpy().astype(np.float32), backbone, failed, list(scan.problems),
                        pre)


def run_features(run_dir: str, samples: list[Sample], device: str = "auto",
                 batch_size: int = 32, callbacks: Work | Iterable = (),
                 cancel: CancelToken | None = None, pre: Preprocess | None = None) -> np.ndarray:
    """The features a trained run's head reads (its body's output) for `samples`, with the
    images prepared as `pre` (the first map's, so that the two maps differ by training alone;
    None: as the run was trained): computed afresh, not cached, unless its body is the
    unchanged pretrained one."""
    task = Work.of(callbacks, cancel)
    run = load_run(run_dir)
    pre = pre or run.preprocess
    dev = pick_device(device)
    model = run.model.to(dev).eval()
    dtype = amp_dtype(dev, True)
    store = open_store(model, run.spec.name, pre, dev, dtype, task)
    request = FeatureRequest(samples, pre, batch_size, dev, dtype, phase="trained")
    feats, _ = body_features(model, request, store if store and store.exists() else None, task)
    return feats.numpy().astype(np.float32)


def inspect(data: DataFeatures, seed: int = 0, method: str = DEFAULT_METHOD,
            threshold: float = THRESHOLD, callbacks: Work | Iterable = (),
            cancel: CancelToken | None = None, coords: np.ndarray | None = None) -> Inspection:
    """The map (unless `coords` gives it: the window draws it first), the separability, the
    likely label errors and the near-duplicates."""
    task = Work.of(callbacks, cancel)
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    coords = embed(data.features, seed, task) if coords is None else coords
    seconds["map"] = time.perf_counter() - start
    labels = data.labels
    start = time.perf_counter()
    score = separability(data.features, labels, seed)
    seconds["separability"] = time.perf_counter() - start
    start = time.perf_counter()
    issues = label_issues(data.features, labels, len(data.classes), seed, method, task)
    seconds["label errors"] = time.perf_counter() - start
    start = time.perf_counter()
    pairs = near_duplicates(data.features, threshold, task=task)
    seconds["near-duplicates"] = time.perf_counter() - start
    return Inspection(data, coords, score, issues, pairs, seconds, threshold)


def with_threshold(result: Inspection, threshold: float) -> Inspection:
    """`result` with its near-duplicate pairs found again from another cosine threshold
    (a matrix product per block of rows: a second for ten thousand images)."""
    pairs = near_duplicates(result.data.features, threshold)
    return dataclasses.replace(result, duplicates=pairs, threshold=threshold)


def inspect_data(data: DataConfig | str, backbone: str = "efficientnet_lite0", seed: int = 0,
                 method: str = DEFAULT_METHOD, threshold: float | None = None,
                 device: str = "auto", callbacks: Work | Iterable = (),
                 cancel: CancelToken | None = None,
                 image_size: int | None = None) -> Inspection:
    """`data_features` then `inspect`: what `transfer-gui inspect` runs."""
    task = Work.of(callbacks, cancel)
    start = time.perf_counter()
    feats = data_features(data, backbone, device, callbacks=task, image_size=image_size)
    took = time.perf_counter() - start
    result = inspect(feats, seed, method, THRESHOLD if threshold is None else threshold, task)
    result.seconds = {"features": took, **result.seconds}
    return result
