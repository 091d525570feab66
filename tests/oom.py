"""Injected out-of-memory errors, to test the GPU path's recovery on the CPU."""

from __future__ import annotations

import torch

OOM = torch.cuda.OutOfMemoryError


def fail_above(limit: int):
    """A forward pre-hook that raises out-of-memory for batches larger than `limit`."""

    def hook(_module, inputs):
        if len(inputs[0]) > limit:
            raise OOM("CUDA out of memory (injected)")

    return hook
