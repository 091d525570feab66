"""What trains, as one explicit selection.

A run's freezing is given either by a preset (a strategy and how many groups `unfreeze`) or by
a hand-made selection: selectors, or the parameter names ticked in the window's layer tree. A
*selector* is a layer group's name ("stage7"), a module path ("body.layer4.1") or a parameter
name ("body.layer4.1.bn2.weight"). `select` turns either form into the same `Selection`: the
shortest list of selectors that covers exactly the parameters that train, with their counts.
Training applies only that selection, and `run.json` stores it.

The selection works on a `ModelLayout`, a light description of a network in plain data
(parameter names and sizes, the module tree, the layer groups; no torch objects). `describe`
builds it on the meta device: no weights are allocated, loaded or downloaded.

This module imports torch only inside `describe`, so a window can use the rest at once.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..config import CLASSIC_STRATEGIES, STRATEGY_NAMES
from ..wording import fine_tune_top_words, format_count, name_ranges, share

if TYPE_CHECKING:
    from .backbones import BackboneSpec

HEAD = "head"
# The fine-tune strategy trains this share of the body's layer groups, counted from the top
# and rounded up: the same part of every backbone (see `top_count`; chosen in the transfer
# benchmark, tests/bench/BENCHMARKS.md).
TOP_SHARE = 0.5


@dataclass(frozen=True)
class Group:
    name: str
    paths: tuple[str, ...]  # full paths in the TransferNet ("body.layer1", "head")


def layer_groups(spec: BackboneSpec, names: Sequence[str] = ()) -> list[Group]:
    """The backbone's groups, from the input to the output, then the head. With the model's
    parameter `names`, every parameter is in a group (`complete`)."""
    groups = [Group(name, tuple(f"body.{p}" for p in paths)) for name, paths in spec.groups]
    return complete([*groups, Group(HEAD, (HEAD,))], names)


def complete(groups: Sequence[Group], names: Sequence[str]) -> list[Group]:
    """`groups` with every parameter of `names` (in the model's order) that none holds added
    to the body group of the parameter before it (the first group when none comes before):
    a parameter between two groups trains, freezes and gets its rate with its neighbours,
    never silently with the head."""
    extra: dict[str, list[str]] = {g.name: [] for g in groups}
    current = groups[0].name
    for name in names:
        found = group_of(name, groups)
        if found is None:
            extra[current].append(name)
        elif found != HEAD:
            current = found
    return [Group(g.name, (*g.paths, *extra[g.name])) for g in groups]


def _under(name: str, path: str) -> bool:
    return name == path or name.startswith(path + ".")


def group_of(name: str, groups: Sequence[Group]) -> str | None:
    """The group a parameter or module path belongs to."""
    for group in groups:
        if any(_under(name, p) for p in group.paths):
            return group.name
    return None


def top_count(body_groups: int, unfreeze: int | None = None) -> int:
    """How many body groups the fine-tune strategy trains: `unfreeze` when given, else the top
    `TOP_SHARE` of them rounded up, which leaves at least one frozen whenever there are two
    or more (so never everything on a backbone deeper than 3 groups)."""
    if unfreeze is not None:
        return max(0, min(unfreeze, body_groups))
    return min(math.ceil(body_groups * TOP_SHARE), max(body_groups - 1, 1))


def preset(strategy: str, groups: Sequence[Group],
           unfreeze: int | None = None) -> tuple[str, ...]:
    """The groups that train under a strategy (`unfreeze` None: fine-tune's automatic top)."""
    names = [g.name for g in groups]
    if strategy == "linear-probe":
        return (HEAD,)
    if strategy == "fine-tune":
        body = names[:-1]
        return (*body[len(body) - top_count(len(body), unfreeze) :], HEAD)
    if strategy in CLASSIC_STRATEGIES:
        return ()  # a classic model is fitted on frozen features: no gradients at all
    return tuple(names)  # "full" and "scratch": everything


def resolve_names(selectors: Iterable[str], groups: Sequence[Group],
                  names: Collection[str]) -> frozenset[str]:
    """The parameter names (out of `names`) that `selectors` cover. Unknown selectors raise
    ValueError."""
    by_group = {g.name: g.paths for g in groups}
    chosen: set[str] = set()
    for selector in selectors:
        paths = by_group.get(selector, (selector,))
        hits = {n for n in names if any(_under(n, p) for p in paths)}
        if not hits and selector not in by_group:
            raise ValueError(f"{selector!r} is neither a layer group nor a module of the model")
        chosen |= hits
    return frozenset(chosen)


# --- the description ------------------------------------------------------------------------


@dataclass(frozen=True)
class Layer:
    """A layer group, a module or a bare parameter of the network."""

    name: str  # as shown: a group's name, or the path without "body."
    path: str  # the full path in the TransferNet; a group's name for a group
    kind: str  # "group", the module's class name, or "Parameter"
    params: tuple[str, ...]  # the parameter names beneath, in the model's order
    size: int  # how many parameter values beneath
    children: tuple[Layer, ...] = ()


@dataclass(frozen=True)
class ModelLayout:
    """A network described for choosing what trains: no torch objects, no weights."""

    backbone: str
    num_classes: int
    groups: tuple[Group, ...]
    sizes: dict[str, int]  # every parameter name -> its number of values, in model order
    layers: tuple[Layer, ...]  # one per group, the modules they hold beneath

    @property
    def total(self) -> int:
        return sum(self.sizes.values())

    def covered(self, selectors: Iterable[str]) -> frozenset[str]:
        return resolve_names(selectors, self.groups, self.sizes)


def describe_model(model: Any, groups: Sequence[Group], backbone: str = "") -> ModelLayout:
    """Describe a built TransferNet (with weights, or on the meta device)."""
    sizes = {name: p.numel() for name, p in model.named_parameters()}
    order = {name: i for i, name in enumerate(sizes)}
    groups = complete(groups, list(sizes))
    layers = []
    for group in groups:
        children = tuple(_layer(model, path) for path in group.paths)
        params = sorted({p for c in children for p in c.params}, key=order.__getitem__)
        layers.append(Layer(group.name, group.name, "group", tuple(params),
                            sum(c.size for c in children), children))
    return ModelLayout(backbone, model.num_classes, tuple(groups), sizes, tuple(layers))


def _layer(model: Any, path: str) -> Layer:
    display = path.removeprefix("body.")
    try:
        module = model.get_submodule(path)
    except AttributeError:
        param = model.get_parameter(path)  # a bare parameter such as ViT's class token
        return Layer(display, path, "Parameter", (path,), param.numel())
    children = [_layer(model, f"{path}.{name}") for name, _ in module.named_children()]
    direct = [Layer(name, f"{path}.{name}", "Parameter", (f"{path}.{name}",), p.numel())
              for name, p in module.named_parameters(recurse=False)]
    params = tuple(f"{path}.{name}" for name, _ in module.named_parameters())
    size = sum(p.numel() for p in module.parameters())
    return Layer(display, path, type(module).__name__, params, size,
                 tuple([c for c in children if c.size] + direct))


def describe(backbone: str, num_classes: int) -> ModelLayout:
    """The layout of `backbone` with a `num_classes` head, built on the meta device: no
    weights are allocated, loaded or downloaded (milliseconds for most backbones)."""
    import torch

    from .backbones import get_spec, split_network

    spec = get_spec(backbone)
    with torch.device("meta"):
        model = split_network(spec, spec.builder(), max(num_classes, 2))
    return describe_model(model, layer_groups(spec), spec.name)  # completed there


# --- the selection --------------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """Exactly what trains: the selectors, the parameter names they cover, the counts."""

    selectors: tuple[str, ...]
    names: frozenset[str]
    trainable: int
    total: int
    is_preset: bool  # the same parameters as the strategy's preset
    frozen_parts: str = ""  # what is frozen, in words ("stem, stages 1-2"; "" for nothing)

    @property
    def frozen(self) -> int:
        return self.total - self.trainable

    def summary(self) -> str:
        """"trainable 3.4 M of 3.4 M parameters (99.9 %) · frozen: stem, stage1 (2.3 k)"."""
        frozen = (f"frozen: {self.frozen_parts} ({format_count(self.frozen)})"
                  if self.frozen else "nothing frozen")
        return f"{summary(self.trainable, self.total)} · {frozen}"


def select(layout: ModelLayout, strategy: str, unfreeze: int | None = None,
           chosen: Iterable[str] | None = None) -> Selection:
    """The one explicit selection for a preset (`chosen` None) or a hand-made choice
    (`chosen`: selectors or parameter names). A classic strategy trains nothing whatever is
    chosen: its model is fitted on frozen features."""
    preset_names = layout.covered(preset(strategy, layout.groups, unfreeze))
    if chosen is None or strategy in CLASSIC_STRATEGIES:
        names = preset_names
    else:
        names = layout.covered(chosen)
    return Selection(compact(layout, names), names, sum(layout.sizes[n] for n in names),
                     layout.total, names == preset_names, frozen_parts(layout, names))


def frozen_parts(layout: ModelLayout, names: Collection[str]) -> str:
    """The layer groups that `names` leaves frozen, in words: "stem, stages 1-2, part of
    stage3"; "the whole backbone" when only the head trains."""
    whole = [g.name for g in layout.layers if g.params and not any(p in names for p in g.params)]
    part = [g.name for g in layout.layers
            if any(p in names for p in g.params) and not all(p in names for p in g.params)]
    body = [g.name for g in layout.layers if g.name != HEAD and g.params]
    if whole == body and not part:
        return "the whole backbone"
    return ", ".join(filter(None, [name_ranges(whole), *(f"part of {n}" for n in part)]))


def compact(layout: ModelLayout, names: Collection[str]) -> tuple[str, ...]:
    """The shortest selectors for `names`: whole groups where a group trains entirely, else
    the largest modules that train entirely."""
    out: list[str] = []
    for group in layout.layers:
        if group.params and all(p in names for p in group.params):
            out.append(group.name)
        else:
            for child in group.children:
                out.extend(_compact(child, names))
    return tuple(out)


def _compact(layer: Layer, names: Collection[str]) -> list[str]:
    flags = [p in names for p in layer.params]
    if flags and all(flags):
        return [layer.path]
    if not any(flags):
        return []
    ordered = sorted(layer.children, key=lambda c: c.kind != "Parameter")  # its own first
    return [s for child in ordered for s in _compact(child, names)]


# --- in words -------------------------------------------------------------------------------


def fine_tune_words(layout: ModelLayout, unfreeze: int | None = None) -> str:
    """What the fine-tune strategy trains on this backbone, in words."""
    body = [g.name for g in layout.groups if g.name != HEAD]
    trained = body[len(body) - top_count(len(body), unfreeze):]
    return fine_tune_top_words(STRATEGY_NAMES["fine-tune"], name_ranges(trained), len(trained),
                               len(body), unfreeze is None, TOP_SHARE)


def summary(trainable: int, total: int) -> str:
    """"trainable 3.4 M of 3.4 M parameters (99.9 %)": never 100 % with a parameter frozen,
    never 0 % with one trainable."""
    return (f"trainable {format_count(trainable)} of {format_count(total)} parameters "
            f"({share(trainable, total)})")
