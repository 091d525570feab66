"""Layer groups for any network: timm's own `group_matcher`, or a rule per torchvision family.

A group is a run of consecutive layers that train (or stay frozen) together: the stem, each
stage (the blocks at one resolution), the top (the layers between the last stage and the
classifier). Every parameter of the body belongs to exactly one group: what no rule names joins
the top. The Grad-CAM layer is the deepest group module whose output is still a feature map.

Everything here runs on a network built on the `meta` device: shapes, no weights.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..config import ConfigError

GroupTable = tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class Found:
    """What grouping found out about a network."""

    groups: GroupTable
    head_path: str  # the classifier a new head replaces
    cam_layer: str
    cam_tokens: bool = False
    # a distilled network's other classifiers (DeiT's and LeViT's distillation head): each is
    # cut out too, so the network gives the average of the features they read
    other_heads: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    """How a torchvision family's body splits: the children of `container` after the stem form
    stages (runs of one resolution, or each child its own with `each`); `stem` leading children
    (0: the first run) form the stem and `top` trailing ones the top; `before` names modules
    outside the container that come first (a stem, an embedding)."""

    container: str
    head: str
    stem: int = 0
    top: int = 0
    each: bool = False
    before: tuple[str, ...] = ()
    unit: str = "stage"
    nhwc: bool = False  # the stages' outputs are (B, H, W, C)
    cam: str = ""  # "": the deepest feature map; "last": the last stage's (or the top's) output
    kwargs: tuple[tuple[str, object], ...] = ()  # for the builder


_VIT = Rule("encoder.layers", "heads.head", each=True, unit="block", cam="last",
            before=("conv_proj", "class_token", "encoder.pos_embedding"))
_INCEPTION = Rule("", "fc", kwargs=(("aux_logits", False), ("transform_input", True),
                                    ("init_weights", False)))
FAMILIES: tuple[tuple[str, Rule], ...] = (  # (name pattern, rule), the first match applies
    (r"resnet|resnext|wide_resnet", Rule("", "fc")),
    (r"regnet", Rule("trunk_output", "fc", each=True, before=("stem",), cam="last")),
    (r"efficientnet", Rule("features", "classifier.1", stem=1, top=1, each=True, cam="last")),
    (r"mobilenet_v2", Rule("features", "classifier.1", stem=1, top=1)),
    (r"mobilenet_v3", Rule("features", "classifier.3", stem=1, top=1)),
    (r"mnasnet", Rule("layers", "classifier.1", top=3)),
    (r"convnext", Rule("features", "classifier.2", stem=1)),
    (r"vit_", _VIT),
    (r"swin", Rule("features", "head", stem=1, nhwc=True, cam="permute")),
    (r"maxvit", Rule("blocks", "classifier.5", each=True, before=("stem",), cam="last")),
    (r"densenet", Rule("features", "classifier")),
    (r"shufflenet", Rule("", "fc", top=1)),
    (r"squeezenet", Rule("features", "classifier.1")),
    (r"googlenet|inception", _INCEPTION),
    (r"alexnet|vgg", Rule("features", "classifier.6")),
)


def rule_for(name: str) -> Rule | None:
    return next((rule for pattern, rule in FAMILIES if re.match(pattern, name)), None)


# --- building on the meta device ---------------------------------------------------------


def build_on_meta(builder: Callable[[], nn.Module]) -> nn.Module:
    """`builder()` with every parameter and buffer on the meta device (no memory, no
    weights). A builder that computes with tensors while it builds (RegNet's widths) gets
    its parameters moved to meta as they are registered instead."""
    try:
        with torch.device("meta"):
            return builder()
    except (NotImplementedError, RuntimeError):
        pass
    register_parameter = nn.Module.register_parameter

    def on_meta(self: nn.Module, name: str, param: nn.Parameter | None) -> None:
        if param is not None and param.device.type != "meta":
            param = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
        register_parameter(self, name, param)

    nn.Module.register_parameter = on_meta  # type: ignore[method-assign]
    try:
        return builder().to("meta")
    finally:
        nn.Module.register_parameter = register_parameter  # type: ignore[method-assign]


# --- shapes -------------------------------------------------------------------------------


def output_shapes(net: nn.Module, size: int) -> dict[str, tuple[int, ...]]:
    """Every module's output shape for one `size` px image (a meta-device forward pass)."""
    shapes: dict[str, tuple[int, ...]] = {}
    handles = []
    for path, module in net.named_modules():
        def keep(_m: nn.Module, _i: object, out: object, path: str = path) -> None:
            if isinstance(out, torch.Tensor):
                shapes[path] = tuple(out.shape)
        handles.append(module.register_forward_hook(keep))
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            net(torch.empty(1, 3, size, size, device="meta"))
    finally:
        for handle in handles:
            handle.remove()
        net.train(was_training)
    return shapes


def _resolution(shape: tuple[int, ...] | None, nhwc: bool) -> tuple[int, ...]:
    if shape is None or len(shape) != 4:
        return tuple(shape or ())
    return shape[1:3] if nhwc else shape[2:]


def _is_map(shape: tuple[int, ...] | None) -> bool:
    """An NCHW feature map (not NHWC: there the channels outnumber the columns)."""
    return (shape is not None and len(shape) == 4 and shape[2] > 1 and shape[3] > 1
            and not (shape[1] == shape[2] and shape[3] > shape[2]))


# --- parameters to module paths -----------------------------------------------------------


def cover(net: nn.Module, names: Iterable[str], prefix: str = "") -> tuple[str, ...]:
    """The fewest module paths (or parameter names) that hold exactly `names`."""
    wanted = set(names)
    out: list[str] = []

    def walk(module: nn.Module, path: str) -> None:
        mine = [f"{path}{n}" for n, _ in module.named_parameters()]
        if mine and all(n in wanted for n in mine):
            out.append(path.rstrip("."))
            return
        for name, _ in module.named_parameters(recurse=False):
            if f"{path}{name}" in wanted:
                out.append(f"{path}{name}")
        for name, child in module.named_children():
            walk(child, f"{path}{name}.")

    walk(net.get_submodule(prefix) if prefix else net, f"{prefix}." if prefix else "")
    return tuple(out)


def _under(name: str, paths: Iterable[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in paths)


def with_leftovers(net: nn.Module, groups: Sequence[tuple[str, tuple[str, ...]]],
                   head: str | Sequence[str]) -> GroupTable:
    """`groups` without empty ones, and every body parameter no group holds in the top
    (`head`: the classifier, or every classifier, whose parameters belong to no group)."""
    heads = [head] if isinstance(head, str) else list(head)
    names = [n for n, _ in net.named_parameters() if not _under(n, heads)]
    kept = [(g, paths) for g, paths in groups
            if any(_under(n, paths) for n in names)]
    claimed = [p for _, paths in kept for p in paths]
    rest = [n for n in names if not _under(n, claimed)]
    if rest:
        extra = cover(net, rest)
        if kept and kept[-1][0] == "top":
            kept[-1] = ("top", (*kept[-1][1], *extra))
        else:
            kept.append(("top", extra))
    return tuple(kept)


def _cam(net: nn.Module, groups: GroupTable, shapes: dict[str, tuple[int, ...]]) -> Found:
    for _, paths in reversed(groups):
        for path in reversed(paths):
            if _is_map(shapes.get(path)):
                return Found(groups, "", path)
    norms = (nn.LayerNorm, nn.Identity)  # after a pooled token: no gradient on the others
    for name, paths in reversed(groups):
        blocks = [p for p in paths if not isinstance(_get(net, p), norms)]
        if name != "top" and blocks and len(shapes.get(blocks[-1], ())) == 3:
            return Found(groups, "", blocks[-1], cam_tokens=True)
    return Found(groups, "", groups[-1][1][-1])


# --- torchvision --------------------------------------------------------------------------


def torchvision_found(name: str, net: nn.Module, size: int) -> Found:
    """The groups of torchvision's `name` by its family's rule (or the generic one)."""
    rule = rule_for(name) or generic_rule(net)
    # the shapes (a forward pass) only where the stages or the Grad-CAM layer need them
    shapes = {} if rule.each and rule.cam else output_shapes(net, size)
    container = net.get_submodule(rule.container) if rule.container else net
    prefix = f"{rule.container}." if rule.container else ""
    children = [f"{prefix}{c}" for c, m in container.named_children()
                if any(True for _ in m.parameters()) and not _under(rule.head, [f"{prefix}{c}"])
                and f"{prefix}{c}" not in rule.before]
    stem = list(rule.before) + children[:rule.stem]
    body = children[rule.stem: len(children) - rule.top]
    top = children[len(children) - rule.top:] if rule.top else []
    runs = [[c] for c in body] if rule.each else _runs(body, shapes, rule.nhwc)
    if not stem and runs:
        stem = runs.pop(0)
    unit = "embed" if rule.unit == "block" else "stem"
    groups = [(unit, tuple(stem))] if stem else []
    groups += [(f"{rule.unit}{i}", tuple(run)) for i, run in enumerate(runs, 1)]
    if top:
        groups.append(("top", tuple(top)))
    table = with_leftovers(net, groups, rule.head)
    if rule.cam == "last":
        last = (top or runs[-1])[-1]
        return Found(table, rule.head, last, cam_tokens=rule.unit == "block")
    if rule.cam:
        return Found(table, rule.head, rule.cam)
    return Found(table, rule.head, _cam(net, table, shapes).cam_layer)


def _runs(paths: list[str], shapes: dict[str, tuple[int, ...]], nhwc: bool) -> list[list[str]]:
    """Consecutive `paths` whose outputs have one resolution, as runs."""
    runs: list[list[str]] = []
    last: tuple[int, ...] | None = None
    for path in paths:
        res = _resolution(shapes.get(path), nhwc)
        if runs and res == last:
            runs[-1].append(path)
        else:
            runs.append([path])
        last = res
    return runs


def generic_rule(net: nn.Module) -> Rule:
    """For a family no rule names: the classifier is the last Linear; the stages are the
    children of the largest container (descending while one child holds most parameters)."""
    head = [p for p, m in net.named_modules() if isinstance(m, nn.Linear)][-1]
    path, module = "", net
    total = sum(p.numel() for p in net.parameters())
    while True:
        children = list(module.named_children())
        big = [(n, c) for n, c in children
               if sum(p.numel() for p in c.parameters()) > 0.6 * total]
        if len(big) != 1 or len(list(big[0][1].children())) < 2:
            break
        path = f"{path}.{big[0][0]}" if path else big[0][0]
        module = big[0][1]
    return Rule(path, head)


# --- timm ---------------------------------------------------------------------------------


def timm_found(net: Any, size: int) -> Found:
    """The groups of a timm network from its own `group_matcher` (coarse: stages)."""
    from timm.models import group_parameters

    heads = timm_classifiers(net)
    head = heads[0]
    matcher = getattr(net, "group_matcher", None)  # PiT has none
    table = group_parameters(net, matcher(coarse=True)) if matcher else by_children(net, heads)
    tokens = any(hasattr(net, a) for a in ("cls_token", "pos_embed"))
    groups: list[tuple[str, tuple[str, ...]]] = []
    ordered = [[n for n in names if not _under(n, heads)] for _, names in sorted(table.items())]
    ordered = [names for names in ordered if names]
    for i, names in enumerate(ordered):
        if i == 0:
            name = "embed" if tokens else "stem"
        elif i == len(ordered) - 1 and not any(re.search(r"\d+\.", n) for n in names):
            name = "top"
        else:
            name = f"{'block' if tokens else 'stage'}{i}"
        groups.append((name, cover(net, names)))
    found = _cam(net, with_leftovers(net, groups, heads), output_shapes(net, size))
    return Found(found.groups, head, found.cam_layer, found.cam_tokens, tuple(heads[1:]))


def by_children(net: nn.Module, heads: Sequence[str]) -> dict[int, list[str]]:
    """For a network without timm's `group_matcher`: its parameters grouped by top-level
    module in order, a container of blocks (Sequential, ModuleList) split into its blocks."""
    table: dict[str, list[str]] = {}
    for name, _ in net.named_parameters():
        if _under(name, heads):
            continue
        parts = name.split(".")
        blocks = isinstance(getattr(net, parts[0], None), nn.Sequential | nn.ModuleList)
        key = ".".join(parts[:2]) if blocks and len(parts) > 2 else parts[0]
        table.setdefault(key, []).append(name)
    return dict(enumerate(table.values()))


def timm_classifiers(net: Any) -> list[str]:
    """The paths of a timm network's classifiers (Linear layers), the main one first: those
    its pretrained configuration names, else those `get_classifier()` returns. A distilled
    network (DeiT, LeViT, PiT, RepViT, ...) has two and averages their logits."""
    named = net.pretrained_cfg.get("classifier") or ()
    names = [named] if isinstance(named, str) else [str(n) for n in named]
    if names and all(isinstance(_get(net, n), nn.Linear) for n in names):
        return _one_width(net, names)
    found = net.get_classifier()
    modules = found if isinstance(found, tuple | list) else (found,)
    where = {id(m): p for p, m in net.named_modules()}
    paths = []
    for module in modules:
        if not isinstance(module, nn.Module) or id(module) not in where:
            continue
        inside = [q for q, m in module.named_modules() if isinstance(m, nn.Linear)]
        if inside:  # a Linear, or a block ending in one (a norm, then the Linear)
            base = where[id(module)]
            paths.append(f"{base}.{inside[-1]}".strip(".") if inside[-1] else base)
    if not paths:
        raise ConfigError(f"{type(net).__name__}: no classifier (Linear layer) was found to "
                          "replace with a new head")
    return _one_width(net, paths)


def _one_width(net: nn.Module, heads: list[str]) -> list[str]:
    """`heads`, refused when they read features of different sizes (CrossViT's branches,
    EfficientViM's stages): such a network gives no one feature vector for a new head."""
    widths = {getattr(_get(net, h), "in_features", None) for h in heads}
    if len(widths) > 1:
        raise ConfigError(f"{type(net).__name__}: its {len(heads)} classifiers read features "
                          "of different sizes (one per branch or stage), so it gives no one "
                          "feature vector for a new head; choose another network")
    return heads


def _get(net: nn.Module, path: str) -> nn.Module | None:
    try:
        return net.get_submodule(path)
    except AttributeError:
        return None
