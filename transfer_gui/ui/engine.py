"""Work the pages hand to worker threads: importing torch, building models, the backbone list.

These functions run off the GUI thread (through `worker.start_task`), take the usual
`(callbacks, cancel)` pair last, and return plain data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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


def load_engine(callbacks: list, cancel: Any) -> EngineInfo:
    """Import torch and the engine (seconds), then describe the backbones and the device."""
    import torch

    from ..core import (
        Trainer,  # noqa: F401 - import now, not when the user clicks Start
        device_label,
        pick_device,
    )

    return EngineInfo(backbone_rows(), device_label(pick_device("auto")), torch.cuda.is_available())


def backbone_rows() -> list[BackboneRow]:
    from ..core import list_specs, weights_source

    return [BackboneRow(s.name, s.title, s.params, s.image_size, s.top1, weights_source(s),
                        s.description) for s in list_specs()]


@dataclass
class ModelStructure:
    """A backbone built for inspection: its layer tree, parameter sizes and groups."""

    backbone: str
    model: Any  # TransferNet
    groups: list
    nodes: list
    sizes: dict[str, int]


def build_structure(
    backbone: str, num_classes: int, callbacks: list, cancel: Any
) -> ModelStructure:
    """The architecture with random weights: enough to show and edit what trains."""
    from ..core import build_model, get_spec, layer_groups, module_tree

    spec = get_spec(backbone)
    model = build_model(spec, max(num_classes, 2), pretrained=False)
    groups = layer_groups(spec)
    sizes = {name: p.numel() for name, p in model.named_parameters()}
    return ModelStructure(backbone, model, groups, module_tree(model, groups), sizes)


def selectors_for(structure: ModelStructure, trainable: set[str]) -> tuple[str, ...]:
    """The compact selector list the engine will train, for a set of parameter names."""
    from ..core import compact_selectors

    for name, param in structure.model.named_parameters():
        param.requires_grad_(name in trainable)
    return compact_selectors(structure.model, structure.groups)


def trainable_names(structure: ModelStructure, strategy: str, unfreeze: int,
                    selectors: tuple[str, ...] | None = None) -> set[str]:
    """Parameter names that train under a preset (or an explicit selector list)."""
    from ..core import preset, resolve

    chosen = selectors if selectors is not None else preset(strategy, structure.groups, unfreeze)
    return resolve(chosen, structure.groups, structure.model)
