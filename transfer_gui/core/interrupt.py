"""Cancellation inside a forward or backward pass, not only between batches.

On a CPU one batch through a large network can take many seconds; a Stop that waits for the
batch to end feels broken. `cancel_points` checks the cancel token as the forward pass enters
each layer group and block, and (when training) as the backward pass reaches them, so the
work stops within one block. The model is left as it was before the interrupted batch: the
optimizer never steps on a half-finished one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import partial
from typing import Any

import torch
from torch import nn

from .events import CancelToken, Work

DEPTH = 3  # "body", "body.layer1", "body.layer1.0": groups and their blocks


@contextlib.contextmanager
def cancel_points(model: nn.Module, cancel: Work | CancelToken | None,
                  depth: int = DEPTH) -> Iterator[None]:
    """Within the block, `Cancelled` is raised from inside `model`'s forward and backward
    passes as soon as `cancel` (a task or a token) is set (checked at modules up to `depth`
    levels deep)."""
    if cancel is None or (isinstance(cancel, Work) and not cancel.watched):
        yield  # nothing outside can stop the work: no hooks to slow it down
        return
    hook = partial(_on_forward, cancel)
    handles = [module.register_forward_pre_hook(hook)
               for name, module in model.named_modules() if name.count(".") < depth]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _on_forward(cancel: Work | CancelToken, _module: nn.Module, args: tuple[Any, ...]) -> None:
    cancel.check()
    if torch.is_grad_enabled():
        for arg in args:
            if isinstance(arg, torch.Tensor) and arg.requires_grad:
                arg.register_hook(partial(_on_backward, cancel))


def _on_backward(cancel: Work | CancelToken, _grad: torch.Tensor) -> None:
    cancel.check()
