"""Freezing applied to a model, and optimizer parameter groups.

What trains is decided in `freezing` (one explicit selection of groups, modules or parameters);
here it is applied. Frozen normalisation layers run in eval mode so their running statistics do
not move, and the optimizer only ever sees trainable parameters.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from torch import nn

from .backbones import TransferNet
from .freezing import HEAD, Group, complete, group_of, layer_groups, preset, resolve_names

__all__ = ["HEAD", "NO_DECAY_NAMES", "Group", "body_frozen", "complete", "count_params",
           "group_of", "layer_groups", "no_decay_names", "param_groups", "preset", "resolve",
           "set_trainable", "train_mode"]


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


# Tokens and position embeddings: no weight decay whatever their shape (with the names a
# timm model's own `no_weight_decay()` gives).
NO_DECAY_NAMES = ("cls_token", "class_token", "dist_token", "reg_token", "mask_token",
                  "pos_embed", "pos_embedding", "absolute_pos_embed",
                  "relative_position_bias_table", "position_embeddings")


def no_decay_names(model: nn.Module) -> set[str]:
    """Parameters that get no weight decay: biases and normalisation weights (1-D), tokens
    and position embeddings, and whatever the body's own `no_weight_decay()` names."""
    body = getattr(model, "body", model)
    prefix = "body." if body is not model else ""
    named = getattr(body, "no_weight_decay", None)
    listed = {str(n) for n in named()} if callable(named) else set()
    out = set()
    for name, param in model.named_parameters():
        inner = name.removeprefix(prefix)
        leaf = inner.rpartition(".")[2]
        if param.ndim <= 1 or leaf in NO_DECAY_NAMES or inner in listed or leaf in listed:
            out.add(name)
    return out


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
    `lr * lr_ratio` to `lr`; with `layer_decay`, a group `k` groups below the head in the whole
    network (its depth, whatever else trains) gets `lr * layer_decay ** k` instead. Every
    parameter is in a group (`complete`). Biases, normalisation weights, tokens and position
    embeddings get no weight decay (`no_decay_names`).
    """
    groups = complete(groups, [n for n, _ in model.named_parameters()])
    by_group: dict[str, list[tuple[str, nn.Parameter]]] = {g.name: [] for g in groups}
    for name, param in model.named_parameters():
        if param.requires_grad:
            by_group[group_of(name, groups) or HEAD].append((name, param))
    plain = no_decay_names(model)
    depth_of = {g.name: len(groups) - 1 - i for i, g in enumerate(groups)}
    active = [g.name for g in groups if by_group[g.name]]
    out = []
    for i, gname in enumerate(active):
        scale = (layer_decay ** depth_of[gname] if layer_decay is not None
                 else lr_ratio ** ((len(active) - 1 - i) / max(len(active) - 1, 1)))
        decay = [p for n, p in by_group[gname] if n not in plain]
        no_decay = [p for n, p in by_group[gname] if n in plain]
        for params, wd in ((decay, weight_decay), (no_decay, 0.0)):
            if params:
                out.append({"params": params, "lr": lr * scale, "weight_decay": wd,
                            "name": gname})
    return out
