"""Freezing applied to a model, and optimizer parameter groups.

What trains is decided in `freezing` (one explicit selection of groups, modules or parameters);
here it is applied. Frozen normalisation layers run in eval mode so their running statistics do
not move, and the optimizer only ever sees trainable parameters.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from torch import nn

from .backbones import TransferNet
from .freezing import HEAD, Group, group_of, layer_groups, preset, resolve_names

__all__ = ["HEAD", "Group", "body_frozen", "count_params", "group_of", "layer_groups",
           "param_groups", "preset", "resolve", "set_trainable", "train_mode"]


def resolve(selectors: Iterable[str], groups: Sequence[Group], model: nn.Module) -> set[str]:
    """The parameter names of `model` that `selectors` cover (see `freezing.resolve_names`)."""
    return set(resolve_names(selectors, groups, [n for n, _ in model.named_parameters()]))


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
