"""Layer groups, the module tree, freezing and optimizer parameter groups.

Groups are ordered from input to output and end with "head". A *selector* names what trains:
a group name ("stage7"), a module path ("body.layer4.1") or a parameter name
("body.layer4.1.bn2.weight"). Freezing is always expressed as the full list of selectors that
train; everything else is frozen. Frozen normalisation layers run in eval mode so their running
statistics do not move, and the optimizer only ever sees trainable parameters.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from torch import nn

from .backbones import BackboneSpec, TransferNet

HEAD = "head"


@dataclass(frozen=True)
class Group:
    name: str
    paths: tuple[str, ...]  # full paths in the TransferNet ("body.layer1", "head")


def layer_groups(spec: BackboneSpec) -> list[Group]:
    groups = [Group(name, tuple(f"body.{p}" for p in paths)) for name, paths in spec.groups]
    return [*groups, Group(HEAD, (HEAD,))]


def _under(name: str, path: str) -> bool:
    return name == path or name.startswith(path + ".")


def group_of(name: str, groups: Sequence[Group]) -> str | None:
    """The group a parameter or module path belongs to."""
    for group in groups:
        if any(_under(name, p) for p in group.paths):
            return group.name
    return None


def resolve(selectors: Iterable[str], groups: Sequence[Group], model: nn.Module) -> set[str]:
    """The parameter names that `selectors` cover. Unknown selectors raise ValueError."""
    by_group = {g.name: g.paths for g in groups}
    names = [n for n, _ in model.named_parameters()]
    chosen: set[str] = set()
    for selector in selectors:
        paths = by_group.get(selector, (selector,))
        hits = {n for n in names if any(_under(n, p) for p in paths)}
        if not hits and selector not in by_group:
            raise ValueError(f"{selector!r} is neither a layer group nor a module of the model")
        chosen |= hits
    return chosen


def preset(strategy: str, groups: Sequence[Group], unfreeze: int = 2) -> tuple[str, ...]:
    """The groups that train under a strategy."""
    names = [g.name for g in groups]
    if strategy == "linear-probe":
        return (HEAD,)
    if strategy == "fine-tune":
        body = names[:-1]
        return (*body[len(body) - min(unfreeze, len(body)) :], HEAD)
    if strategy in ("logistic", "knn"):
        return ()  # a classic model is fitted on frozen features: no gradients at all
    return tuple(names)  # "full" and "scratch": everything


def set_trainable(model: nn.Module, groups: Sequence[Group], selectors: Iterable[str]) -> int:
    """Make exactly the parameters under `selectors` trainable; return how many tensors train."""
    chosen = resolve(selectors, groups, model)
    for name, param in model.named_parameters():
        param.requires_grad_(name in chosen)
    return len(chosen)


def count_params(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    total = trainable = 0
    for param in model.parameters():
        total += param.numel()
        if param.requires_grad:
            trainable += param.numel()
    return trainable, total


def body_frozen(model: TransferNet) -> bool:
    return not any(p.requires_grad for p in model.body.parameters())


_NORMS = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm)


def train_mode(model: TransferNet, freeze_bn: bool = False) -> None:
    """Training mode that respects freezing: a fully frozen body runs in eval mode (no dropout,
    no statistics updates), and so does every normalisation layer whose parameters are frozen
    (with `freeze_bn`, every one: the pretrained statistics stay, the affine weights train)."""
    model.train()
    if body_frozen(model):
        model.body.eval()
        return
    for module in model.modules():
        if isinstance(module, _NORMS):
            params = list(module.parameters())
            if freeze_bn or (params and not any(p.requires_grad for p in params)):
                module.eval()


def param_groups(
    model: nn.Module,
    groups: Sequence[Group],
    lr: float,
    weight_decay: float,
    lr_ratio: float = 1.0,
    layer_decay: float | None = None,
) -> list[dict]:
    """Optimizer groups with discriminative learning rates.

    Trainable layer groups, from the earliest to the head, get rates spread geometrically from
    `lr * lr_ratio` to `lr`; with `layer_decay`, the k-th group below the head gets
    `lr * layer_decay ** k` instead. Biases and normalisation weights (1-D tensors) get no
    weight decay.
    """
    by_group: dict[str, list[tuple[str, nn.Parameter]]] = {g.name: [] for g in groups}
    for name, param in model.named_parameters():
        if param.requires_grad:
            by_group[group_of(name, groups) or HEAD].append((name, param))
    active = [g.name for g in groups if by_group[g.name]]
    out = []
    for i, gname in enumerate(active):
        depth = len(active) - 1 - i
        scale = (layer_decay ** depth if layer_decay is not None
                 else lr_ratio ** (depth / max(len(active) - 1, 1)))
        decay = [p for n, p in by_group[gname] if p.ndim > 1]
        no_decay = [p for n, p in by_group[gname] if p.ndim <= 1]
        for params, wd in ((decay, weight_decay), (no_decay, 0.0)):
            if params:
                out.append({"params": params, "lr": lr * scale, "weight_decay": wd,
                            "name": gname})
    return out


@dataclass
class Node:
    """One module in the tree shown to the user."""

    name: str
    path: str  # full path in the TransferNet; "" for the root
    kind: str  # the module's class name, or "group"
    params: int
    trainable: int
    children: list[Node] = field(default_factory=list)

    @property
    def state(self) -> str:
        """"on", "off" or "partial" (some parameters train)."""
        if self.params == 0:
            return "off"
        if self.trainable == self.params:
            return "on"
        return "off" if self.trainable == 0 else "partial"


def module_tree(model: TransferNet, groups: Sequence[Group]) -> list[Node]:
    """Groups at the top, the modules they hold beneath, down to the leaves."""
    nodes = []
    for group in groups:
        children = [_node(model, path) for path in group.paths]
        params = sum(c.params for c in children)
        trainable = sum(c.trainable for c in children)
        nodes.append(Node(group.name, group.name, "group", params, trainable, children))
    return nodes


def _node(model: nn.Module, path: str) -> Node:
    display = path.removeprefix("body.")
    try:
        module = model.get_submodule(path)
    except AttributeError:
        param = model.get_parameter(path)  # a bare parameter such as ViT's class token
        n = param.numel()
        return Node(display, path, "Parameter", n, n if param.requires_grad else 0)
    direct = [
        _param_node(path, name, p) for name, p in module.named_parameters(recurse=False)
    ]
    children = [_node(model, f"{path}.{name}") for name, _ in module.named_children()]
    children = [c for c in children if c.params] + direct
    params = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return Node(display, path, type(module).__name__, params, trainable, children)


def _param_node(path: str, name: str, param: nn.Parameter) -> Node:
    full = f"{path}.{name}"
    n = param.numel()
    return Node(name, full, "Parameter", n, n if param.requires_grad else 0)


def compact_selectors(model: nn.Module, groups: Sequence[Group]) -> tuple[str, ...]:
    """The shortest selector list that describes the model's current trainable set: whole
    groups where a group trains entirely, else the largest fully-trainable modules."""
    out: list[str] = []
    for group in groups:
        for path in group.paths:
            out.extend(_compact(model, path))
    whole = {g.name for g in groups if g.paths and all(p in out for p in g.paths)}
    result = []
    for group in groups:
        if group.name in whole:
            result.append(group.name)
        else:
            result.extend(s for s in out if group_of(s, groups) == group.name)
    return tuple(result)


def _compact(model: nn.Module, path: str) -> list[str]:
    try:
        module = model.get_submodule(path)
    except AttributeError:
        return [path] if model.get_parameter(path).requires_grad else []
    params = list(module.parameters())
    flags = [p.requires_grad for p in params]
    if params and all(flags):
        return [path]
    if not any(flags):
        return []
    out = [f"{path}.{n}" for n, p in module.named_parameters(recurse=False) if p.requires_grad]
    for name, _ in module.named_children():
        out.extend(_compact(model, f"{path}.{name}"))
    return out


def format_count(n: int) -> str:
    if n >= 1e6:
        return f"{n / 1e6:.1f} M"
    if n >= 1e3:
        return f"{n / 1e3:.1f} k"
    return str(n)


def summary(model: nn.Module) -> str:
    trainable, total = count_params(model)
    share = 100.0 * trainable / total if total else 0.0
    digits = 0 if share == 0 or share >= 1 or math.isclose(share, 100) else 1
    return (f"trainable {format_count(trainable)} of {format_count(total)} parameters "
            f"({share:.{digits}f} %)")
