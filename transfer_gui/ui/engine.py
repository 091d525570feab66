"""Work the pages hand to worker threads: importing torch, describing networks, the backbone list.

These functions run off the GUI thread (through `worker.start_task`), take the usual
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
    params: int
    image_size: int
    top1: float | None
    weights: str
    description: str


@dataclass(frozen=True)
class EngineInfo:
    backbones: list[BackboneRow]
    device: str
    cuda: bool
    gpus: int = 0  # CUDA GPUs visible (more than one: the Train page offers all of them)


def load_engine(callbacks: list, cancel: Any) -> EngineInfo:
    """Import torch and the engine (seconds), then describe the backbones and the device."""
    import torch

    from ..core import (
        Trainer,  # noqa: F401 - import now, not when the user clicks Start
        device_label,
        pick_device,
        visible_gpus,
    )

    return EngineInfo(backbone_rows(), device_label(pick_device("auto")), torch.cuda.is_available(),
                      visible_gpus())


def backbone_rows() -> list[BackboneRow]:
    from ..core import list_specs, weights_source

    return [BackboneRow(s.name, s.title, s.params, s.image_size, s.top1, weights_source(s),
                        s.description) for s in list_specs()]


def describe_structure(backbone: str, num_classes: int, callbacks: list,
                       cancel: Any) -> ModelLayout:
    """The network's layer tree, groups and parameter sizes, described without any weights:
    enough to show and edit what trains."""
    from ..core import describe

    return describe(backbone, max(num_classes, 2))
