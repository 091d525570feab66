"""Using a model: top-k predictions for image files and Grad-CAM explanations.

A `Predictor` holds one model in eval mode; it is built once (from a run folder, or from a
backbone's own ImageNet head) and then classifies any number of images without reloading.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .. import atomic
from ..data.datasets import Preprocess, eval_transform, to_tensor
from ..data.images import (
    ImageError,
    decode,
    decode_bytes,
    is_supported,
    resize_short,
    unsupported_reason,
)
from ..data.labels import LabelTask, needs_targets
from ..events import CancelToken, Work
from ..models.backbones import BackboneSpec, TransferNet, get_spec, imagenet_categories
from ..models.heads import probabilities
from ..train.recipe import pick_device
from ..wording import count
from .tasks import task_answers


@dataclass(frozen=True)
class Prediction:
    path: str
    top_k: list[tuple[str, float]] = field(default_factory=list)
    error: str | None = None
    truth: str | None = None  # the class its folder names, when that is one of the model's
    tasks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # several tasks'

    @property
    def label(self) -> str | None:
        return self.top_k[0][0] if self.top_k else None

    @property
    def correct(self) -> bool | None:
        """Whether the top class is the folder's class; None when either is unknown."""
        if self.truth is None or self.label is None:
            return None
        return self.label == self.truth

    def to_dict(self, threshold: float | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "top_k": [{"label": label, "probability": p} for label, p in self.top_k],
            "true_class": self.truth,
            "correct": self.correct,
        }
        if threshold is not None:
            out["uncertain"] = is_uncertain(self.top_k, threshold)
        if self.tasks:
            out["tasks"] = self.tasks
        if self.error:
            out["error"] = self.error
        return out


# Below this top probability a result is flagged "uncertain": the model then gives its answer
# less weight than all the other classes together.
UNCERTAIN_BELOW = 0.5


def is_uncertain(top_k: Sequence[tuple[str, float]], threshold: float = UNCERTAIN_BELOW) -> bool:
    return bool(top_k) and top_k[0][1] < threshold


def write_csv(path: str | os.PathLike[str], predictions: Sequence[Prediction], top_k: int,
              threshold: float | None = None) -> int:
    """One row per image: path, error (and, given a `threshold`, an `uncertain` column of
    0/1), `true_class` and `correct` (1/0; both empty for a file outside a folder named like
    a class), then label and probability for each of the top k. Returns the rows written."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    header = ["path", "error"] + (["uncertain"] if threshold is not None else [])
    header += ["true_class", "correct"]
    for i in range(1, top_k + 1):
        header += [f"label_{i}", f"probability_{i}"]
    writer.writerow(header)
    for p in predictions:
        row = [p.path, p.error or ""]
        if threshold is not None:
            row.append("1" if is_uncertain(p.top_k, threshold) else "0")
        row += [p.truth or "", "" if p.correct is None else str(int(p.correct))]
        for label, prob in p.top_k[:top_k]:
            row += [label, f"{prob:.6f}"]
        writer.writerow(row)
    atomic.write_text(path, buffer.getvalue())
    return len(predictions)


def folder_labels(paths: Sequence[str], classes: Sequence[str]) -> list[str | None]:
    """The true class of each file when it sits in a folder named like one of `classes` (a
    labelled folder, one sub-folder per class), else None."""
    known = set(classes)
    names = (os.path.basename(os.path.dirname(os.path.abspath(p))) for p in paths)
    return [name if name in known else None for name in names]


def labelled_accuracy(labels: Sequence[str | None],
                      truths: Sequence[str | None]) -> tuple[int, int]:
    """(correct, counted) over the files with a known true class and a prediction."""
    pairs = [(p, t) for p, t in zip(labels, truths, strict=True) if t is not None and p is not None]
    return sum(p == t for p, t in pairs), len(pairs)


@dataclass(frozen=True)
class LabelledScore:
    """Accuracy over the files whose folder names their class, and how many classes those
    cover (a batch stopped early may have seen only some)."""

    correct: int
    counted: int
    classes: int

    def text(self) -> str:
        return (f"accuracy {self.correct / self.counted:.1%} on "
                f"{count(self.counted, 'image')} of {count(self.classes, 'class')} in folders "
                "named like the model's classes")


def labelled_score(labels: Sequence[str | None],
                   truths: Sequence[str | None]) -> LabelledScore | None:
    """The `LabelledScore` of a batch; None when no file has a known class and a prediction."""
    correct, counted = labelled_accuracy(labels, truths)
    if not counted:
        return None
    covered = {t for p, t in zip(labels, truths, strict=True) if t is not None and p is not None}
    return LabelledScore(correct, counted, len(covered))


def expand_inputs(inputs: Iterable[str | os.PathLike[str]], interleave: bool = True) -> list[str]:
    """The files to classify from a mix of files and folders. Folders are searched like a data
    folder (hidden and system files skipped, links followed without looping); every other
    file is kept, so a file that is not an image gets an error entry rather than vanishing.
    With `interleave`, a folder's files are taken from its sub-folders in turn (one of each
    class folder, then the next of each), so a batch stopped early has seen every class."""
    from ..data.scan import Problem, walk_files

    files: list[str] = []
    for item in inputs:
        path = Path(item)
        if not path.is_dir():
            files.append(os.fspath(item))
            continue
        problems: list[Problem] = []
        found = [str(p) for p in walk_files(path, problems)]
        found += [p.path for p in problems if not os.path.isdir(p.path)]  # broken links
        files.extend(_round_robin(sorted(found)) if interleave else sorted(found))
    return files


def _round_robin(paths: list[str]) -> list[str]:
    """`paths` (sorted) taken from each folder in turn: first file of each, then second…"""
    by_folder: dict[str, list[str]] = {}
    for p in paths:
        by_folder.setdefault(os.path.dirname(p), []).append(p)
    columns = list(by_folder.values())
    longest = max((len(c) for c in columns), default=0)
    return [c[i] for i in range(longest) for c in columns if i < len(c)]


class Predictor:
    tasks: Sequence[LabelTask] = ()  # answered one by one when there are several (`answers`)
    def __init__(
        self,
        model: TransferNet,
        classes: Sequence[str],
        preprocess: Preprocess,
        spec: BackboneSpec,
        device: str | torch.device = "auto",
        tasks: Sequence[LabelTask] = (),
        thresholds: dict[str, list[float]] | None = None,
    ) -> None:
        """`tasks`: a labels CSV's columns, each answered (`Prediction.tasks`) when there are
        several or a multi-label one; `thresholds`: a multi-label task's per-label cuts."""
        self.device = pick_device(device) if isinstance(device, str) else device
        self.tasks = list(tasks) if needs_targets(tasks) else []
        self.thresholds = thresholds or {}
        self.model = model.to(self.device).eval()
        self.classes = list(classes)
        self.preprocess = preprocess
        self.spec = spec
        self._transform = eval_transform(preprocess)

    @classmethod
    def from_run(cls, run_dir: str | os.PathLike[str], device: str = "auto") -> Predictor:
        from ..io.bundle import load_run
        from .evaluation import run_thresholds

        run = load_run(run_dir)
        cuts = run_thresholds(run, device=device) if needs_targets(run.tasks) else None
        return cls(run.model, run.classes, run.preprocess, run.spec, device, run.tasks, cuts)

    @classmethod
    def imagenet(cls, backbone: str, device: str = "auto", callbacks: Work | Iterable = (),
                 cancel: CancelToken | None = None) -> Predictor:
        """The pretrained network with its own ImageNet classifier: no training needed.
        `callbacks` may be a `Work`."""
        from ..models.weights import build_model

        spec = get_spec(backbone)
        model = build_model(spec, None, pretrained=True, callbacks=callbacks, cancel=cancel)
        return cls(model, imagenet_categories(), Preprocess.for_backbone(spec), spec, device)

    def crop(self, image: Image.Image) -> Image.Image:
        """What the network sees: shorter side resized, then the centered square."""
        pre = self.preprocess
        image = resize_short(image, pre.resize_size)
        width, height = image.size
        left, top = (width - pre.image_size) // 2, (height - pre.image_size) // 2
        return image.crop((left, top, left + pre.image_size, top + pre.image_size))

    def _inputs(self, images: Sequence[Image.Image]) -> torch.Tensor:
        pre = self.preprocess
        return torch.stack([self._transform(to_tensor(resize_short(im, pre.resize_size)))
                            for im in images])

    @torch.no_grad()
    def probabilities(self, images: Sequence[Image.Image]) -> np.ndarray:
        x = self._inputs(images).to(self.device)
        return probabilities(self.model.head, self.model(x).float()).cpu().numpy()

    def top(self, probs: np.ndarray, k: int) -> list[tuple[str, float]]:
        """One image's `k` most probable classes (of the first task when there are several)."""
        if self.tasks:  # the first task's answer
            first = next(iter(task_answers(self.tasks, probs, self.thresholds, k).values()))
            return [(a["label"], a["probability"]) for a in first]
        order = np.argsort(-probs)[: max(1, min(k, len(self.classes)))]
        return [(self.classes[i], float(probs[i])) for i in order]

    def predict_images(self, images: Sequence[Image.Image], top_k: int = 5) -> list[list]:
        return [self.top(p, top_k) for p in self.probabilities(images)] if images else []

    def predict_answers(self, images: list[Image.Image],
                        top_k: int = 5) -> list[tuple[list, dict]]:
        """Each image's top classes, and every task's answer when there are several."""
        if not self.tasks:
            return [(top, {}) for top in self.predict_images(images, top_k)]
        if not images:
            return []
        return [(self.top(p, top_k), self.answers(p, top_k))
                for p in self.probabilities(images)]

    def answers(self, probs: np.ndarray, top_k: int = 3,
                threshold: float | None = None) -> dict[str, list[dict[str, Any]]]:
        """Every task's answer for one image's probabilities ({} for one plain task); a
        `threshold` replaces a multi-label task's own cuts."""
        if not self.tasks:
            return {}
        cuts = self.thresholds
        if threshold is not None:
            cuts = {t.name: [threshold] * len(t.classes) for t in self.tasks}
        return task_answers(self.tasks, probs, cuts, top_k)

    def predict_paths(
        self,
        paths: Sequence[str],
        top_k: int = 5,
        batch_size: int = 16,
        callbacks: Work | Iterable = (),
        cancel: CancelToken | None = None,
    ) -> list[Prediction]:
        """One `Prediction` per path, in order; unreadable files carry their error instead.
        `callbacks` may be a `Work`."""
        task = Work.of(callbacks, cancel)
        truths = folder_labels(paths, self.classes)
        out: list[Prediction] = []
        for start in range(0, len(paths), batch_size):
            task.check()
            chunk = paths[start : start + batch_size]
            loaded: dict[str, Image.Image] = {}
            errors: dict[str, str] = {}
            for path in chunk:
                try:
                    loaded[path] = self.load(path)
                except ImageError as exc:
                    errors[path] = exc.reason
            tops = iter(self.predict_answers(list(loaded.values()), top_k))
            for path, truth in zip(chunk, truths[start : start + batch_size], strict=True):
                if path in errors:
                    out.append(Prediction(path, error=errors[path], truth=truth))
                    continue
                top, answers = next(tops)
                out.append(Prediction(path, top, truth=truth, tasks=answers))
            task.progress(len(out), len(paths), "predict")
        return out

    def load(self, path: str) -> Image.Image:
        """The image at `path`, decoded for this model; `ImageError` says why it cannot be."""
        if not is_supported(path):
            raise ImageError(path, unsupported_reason(path))
        return decode(path, min_side=self.preprocess.resize_size)

    def load_bytes(self, data: bytes, name: str = "upload") -> Image.Image:
        """`load` for an image held in memory (an upload), decoded the same way."""
        return decode_bytes(data, name, min_side=self.preprocess.resize_size)

    def gradcam(self, image: Image.Image, class_index: int | None = None) -> np.ndarray:
        """Grad-CAM heat map (values in [0, 1]) over `self.crop(image)`, for `class_index`
        (the top prediction when None)."""
        layer = self.model.get_submodule(f"body.{self.spec.cam_layer}")
        store: dict[str, torch.Tensor] = {}

        def keep(_module: Any, _inputs: Any, output: torch.Tensor) -> None:
            store["act"] = output
            output.register_hook(lambda grad: store.__setitem__("grad", grad))

        handle = layer.register_forward_hook(keep)
        try:
            x = self._inputs([image]).to(self.device).requires_grad_(True)
            with torch.enable_grad():
                logits = self.model(x)
                index = int(logits[0].argmax()) if class_index is None else class_index
                self.model.zero_grad(set_to_none=True)
                logits[0, index].backward()
        finally:
            handle.remove()
        return self._cam_map(store["act"].detach(), store["grad"].detach())

    def _cam_map(self, act: torch.Tensor, grad: torch.Tensor) -> np.ndarray:
        if self.spec.cam_tokens:  # (B, 1 + H*W, C) tokens -> (B, C, H, W)
            act, grad = (_tokens_to_map(t) for t in (act, grad))
        weights = grad.float().mean(dim=(2, 3), keepdim=True)
        cam = F.relu((weights * act.float()).sum(dim=1, keepdim=True))
        size = self.preprocess.image_size
        cam = F.interpolate(cam, size=(size, size), mode="bilinear", align_corners=False)[0, 0]
        cam = cam - cam.min()
        peak = float(cam.max())
        return (cam / peak if peak > 0 else cam).cpu().numpy().astype(np.float32)


def _tokens_to_map(tokens: torch.Tensor) -> torch.Tensor:
    """(B, N, C) tokens -> (B, C, H, W): the last H*W tokens are the patch grid; those before
    it (a class token, register tokens) are left out."""
    side = math.isqrt(tokens.shape[1])
    patches = tokens[:, tokens.shape[1] - side * side:, :]
    return patches.reshape(tokens.shape[0], side, side, -1).permute(0, 3, 1, 2)


def overlay(image: Image.Image, cam: np.ndarray, alpha: float = 0.45) -> Image.Image:
    """`cam` drawn over `image` (same size) in a blue-to-red colour map."""
    heat = np.clip(cam, 0.0, 1.0)
    colours = np.stack([
        np.clip(1.5 - np.abs(4 * heat - 3), 0, 1),
        np.clip(1.5 - np.abs(4 * heat - 2), 0, 1),
        np.clip(1.5 - np.abs(4 * heat - 1), 0, 1),
    ], axis=-1)
    base = np.asarray(image.convert("RGB").resize(cam.shape[::-1]), dtype=np.float32) / 255.0
    mixed = (1 - alpha) * base + alpha * colours
    return Image.fromarray((mixed * 255).round().astype(np.uint8), "RGB")
