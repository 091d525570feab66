"""Heads other than the linear layer: kept with the models because a saved run rebuilds them
(`io.bundle.load_run`) without knowing how they were fitted (`train.classic`)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class KNNHead(nn.Module):
    """Similarity-weighted k-nearest-neighbour votes, as log-probabilities.

    Votes are exp(cosine similarity / temperature), so the output is smooth in the input and
    Grad-CAM can explain it.
    """

    bank: torch.Tensor  # buffers, registered in __init__
    labels: torch.Tensor
    eps: torch.Tensor

    def __init__(self, bank_size: int, dim: int, num_classes: int, k: int = 5,
                 temperature: float = 0.07) -> None:
        super().__init__()
        self.register_buffer("bank", torch.zeros(bank_size, dim))
        self.register_buffer("labels", torch.zeros(bank_size, dtype=torch.long))
        # A tensor, not a Python number: the ONNX exporter's optimiser drops an added scalar
        # this close to 0 as a no-op, and log(0) then gives -inf where PyTorch gives -18.4.
        self.register_buffer("eps", torch.full((1,), 1e-8), persistent=False)
        self.k = min(k, bank_size)
        self.temperature = temperature
        self.num_classes = num_classes
        self.in_features, self.out_features = dim, num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sims = F.normalize(x.float(), dim=1) @ self.bank.t()
        values, index = sims.topk(self.k, dim=1)
        weights = torch.exp((values - 1.0) / self.temperature)  # shifted: no overflow
        votes = torch.zeros(x.shape[0], self.num_classes, device=x.device, dtype=weights.dtype)
        votes = votes.scatter_add(1, self.labels[index], weights)
        return torch.log(votes / votes.sum(dim=1, keepdim=True) + self.eps)

    def extra_repr(self) -> str:
        return f"bank={tuple(self.bank.shape)}, k={self.k}, temperature={self.temperature}"

    def meta(self) -> dict:
        return {"type": "knn", "bank_size": int(self.bank.shape[0]), "k": self.k,
                "temperature": self.temperature}


def knn_head_from_meta(meta: dict, dim: int, num_classes: int) -> KNNHead:
    return KNNHead(int(meta["bank_size"]), dim, num_classes, int(meta["k"]),
                   float(meta.get("temperature", 0.07)))


class MultiHead(nn.Module):
    """One linear head per task on the shared body. The output is every task's logits side by
    side (`slices`); targets are one column per single-label task (the class index) and one
    0/1 column per label of a multi-label task (`target_slices`). Its loss and metrics are
    those of its kind (`kinds.SeveralTasks`, or `kinds.MultiLabel` for one multi-label task),
    each task's loss times its `weights`."""

    def __init__(self, dim: int, names: Sequence[str], sizes: Sequence[int],
                 multi: Sequence[bool], weights: Sequence[float] | None = None) -> None:
        super().__init__()
        self.names, self.sizes, self.multi = list(names), list(sizes), list(multi)
        self.weights = list(weights) if weights is not None else [1.0] * len(self.names)
        heads = [nn.Linear(dim, n) for n in self.sizes]
        for head in heads:
            nn.init.normal_(head.weight, std=0.01)
            nn.init.zeros_(head.bias)
        self.heads = nn.ModuleList(heads)
        self.in_features, self.out_features = dim, sum(self.sizes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([head(x) for head in self.heads], dim=1)

    def slices(self) -> list[slice]:
        """Each task's columns of the output."""
        return _runs(self.sizes)

    def target_slices(self) -> list[slice]:
        """Each task's columns of the targets."""
        return _runs([n if m else 1 for n, m in zip(self.sizes, self.multi, strict=True)])

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Each task's softmax (single-label) or sigmoid (multi-label), side by side."""
        return torch.cat([logits[:, s].sigmoid() if m else logits[:, s].softmax(dim=1)
                          for s, m in zip(self.slices(), self.multi, strict=True)], dim=1)

    def extra_repr(self) -> str:
        return ", ".join(f"{n}: {s}{' (multi-label)' if m else ''}"
                         for n, s, m in zip(self.names, self.sizes, self.multi, strict=True))


def _runs(widths: Sequence[int]) -> list[slice]:
    out, start = [], 0
    for w in widths:
        out.append(slice(start, start + w))
        start += w
    return out


def probabilities(head: nn.Module, logits: torch.Tensor) -> torch.Tensor:
    """What a head's logits mean: per-task probabilities for a `MultiHead`, else a softmax."""
    if isinstance(head, MultiHead):
        return head.probabilities(logits)
    return logits.softmax(dim=1)
