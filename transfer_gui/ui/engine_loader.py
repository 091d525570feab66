"""Work the pages hand to worker threads: importing torch, describing networks, the backbone list.

These functions run off the GUI thread (through `worker.start_job`), take the usual
`(callbacks, cancel)` pair last, and return plain data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..core import ModelLayout


@dataclass(frozen=True)
class BackboneRow:
    name: str
    title: str
    params: int  # 0: not known
    image_size: int
    top1: float | None
    weights: str  # "bundled", "cached", "download" or "none"
    description: str
    source: str = "torchvision"
    family: str = ""
    pretraining: str = "in1k"
    gflops: float | None = None
    recommended: bool = False
    speed: float | None = None  # images per second measured on this computer


@dataclass(frozen=True)
class EngineInfo:
    backbones: list[BackboneRow]
    device: str
    cuda: bool
    gpus: int = 0  # CUDA GPUs visible (more than one: the Train page offers all of them)


def load_engine(callbacks: list, cancel: Any) -> EngineInfo:
    """Import torch and the engine (seconds), then describe the backbones and the device."""
    from ..core import load_torch

    torch = load_torch()  # the one import path (a page's worker may be importing the engine)
    from ..core import (
        Trainer,  # noqa: F401 - import now, not when the user clicks Start
        device_label,
        pick_device,
        visible_gpus,
    )

    return EngineInfo(backbone_rows(), device_label(pick_device("auto")), torch.cuda.is_available(),
                      visible_gpus())


def backbone_rows() -> list[BackboneRow]:
    """Every model of the zoo (curated first), with where its weights are; torch-free."""
    from ..core import load_catalog, measured_speeds, weights_statuses

    entries = [e for e in load_catalog().entries if not is_toy(e.id)]
    here = weights_statuses(entries)
    speeds = measured_speeds()
    rows = [BackboneRow(e.id, e.title, e.params or 0, e.image_size, e.top1, here[e.id],
                        e.description, e.source, e.family, e.pretraining, e.gflops,
                        e.recommended, speeds.get(e.id)) for e in entries]
    return registered_rows({e.id for e in entries}) + rows


def is_toy(model_id: str) -> bool:
    """timm's `test_*` networks: a few thousand parameters and no pretrained weights, made
    for timm's own tests; not for a user's list (the test suite registers them itself)."""
    return model_id.startswith("timm/test_")


def registered_rows(listed: set[str]) -> list[BackboneRow]:
    """Backbones registered in this process but not in the zoo's list (a plugin's)."""
    from ..core import list_specs, weights_source

    return [BackboneRow(s.name, s.title, s.params, s.image_size, s.top1, weights_source(s),
                        s.description, "registered", recommended=True)
            for s in list_specs() if s.name not in listed]


def measure(model_id: str, callbacks: list, cancel: Any) -> float:
    """Images per second of `model_id` on this computer (a short timing, remembered)."""
    from ..core import measure_speed

    return measure_speed(model_id, callbacks, cancel)


def fetch(model_id: str, callbacks: list, cancel: Any) -> str:
    """Download `model_id`'s weights into torch's or Hugging Face's cache."""
    from ..core import fetch_weights

    return str(fetch_weights(model_id, callbacks, cancel))


def describe_structure(backbone: str, num_classes: int, callbacks: list,
                       cancel: Any) -> ModelLayout | str:
    """The network's layer tree, groups and parameter sizes, described without any weights:
    enough to show and edit what trains; or why it cannot be (a model without layer groups)."""
    from ..core import ConfigError, describe

    try:
        return describe(backbone, max(num_classes, 2))
    except ConfigError as exc:
        return str(exc)


def check_weights(backbone: str, path: str, num_classes: int, callbacks: list,
                  cancel: Any) -> str:
    """`path` if its weights load into `backbone`; else the engine's error, in words."""
    from ..core import check_weights_file

    check_weights_file(backbone, path, num_classes)
    return path


