"""A tiny convolutional network registered as a hidden backbone, so tests run in seconds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from transfer_gui.core.models.backbones import BackboneSpec, register

NAME = "tiny_cnn"
PLAIN = "tiny_plain"  # the same without BatchNorm


def _block(cin: int, cout: int, norm: bool = True) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=not norm),
        nn.BatchNorm2d(cout) if norm else nn.Identity(),
        nn.ReLU(inplace=True),
    )


class TinyNet(nn.Module):
    def __init__(self, num_classes: int = 10, norm: bool = True) -> None:
        super().__init__()
        self.stem = _block(3, 8, norm)
        self.stage1 = _block(8, 16, norm)
        self.stage2 = _block(16, 32, norm)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(32, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stage2(self.stage1(self.stem(x)))
        return self.fc(self.flatten(self.pool(x)))


def install(folder: Path) -> BackboneSpec:
    """Save fixed 'pretrained' weights under `folder` and register the backbone."""
    return _register(folder, NAME, "Tiny CNN (tests)", TinyNet)


def _plain() -> TinyNet:
    return TinyNet(norm=False)


def install_plain(folder: Path) -> BackboneSpec:
    """The tiny network without BatchNorm, registered as `tiny_plain` (weights under `folder`)."""
    return _register(folder, PLAIN, "Tiny CNN without BatchNorm (tests)", _plain)


def _register(folder: Path, name: str, title: str, builder: Callable[[], TinyNet]
              ) -> BackboneSpec:
    weights = folder / f"{name}.pth"
    if not weights.exists():
        torch.manual_seed(1234)
        torch.save(builder().state_dict(), weights)
    return register(BackboneSpec(
        name=name, title=title, builder=builder,
        groups=(("stem", ("stem",)), ("stage1", ("stage1",)), ("stage2", ("stage2",))),
        head_path="fc", cam_layer="stage2", image_size=32, resize_size=36,
        params=sum(p.numel() for p in builder().parameters()),
        bundled=lambda: str(weights), hidden=True,
    ))
