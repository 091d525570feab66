"""Heads other than the linear layer: kept with the models because a saved run rebuilds them
(`io.bundle.load_run`) without knowing how they were fitted (`train.classic`)."""

from __future__ import annotations

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
