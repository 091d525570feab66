"""What the app knows of a backbone: `BackboneSpec` (architecture, layer groups, classifier,
Grad-CAM layer, preprocessing, where its weights come from)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    title: str
    builder: Callable[[], nn.Module]  # random-init architecture with its ImageNet classifier
    groups: tuple[tuple[str, tuple[str, ...]], ...]  # (group name, module/param paths)
    head_path: str  # the ImageNet classifier (a Linear) replaced by the new head
    cam_layer: str
    # What the pretrained weights are known by: for torchvision's networks read from its
    # weight catalogue (`_catalogue`), for the bundled one declared beside the network.
    image_size: int = 224  # the evaluation crop
    resize_size: int = 256  # the shorter side before cropping
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    params: int = 0  # with the 1000-class ImageNet head
    top1: float | None = None  # ImageNet-1K accuracy, %
    weights_url: str | None = None  # torchvision's download address
    bundled: Callable[[], str | None] | None = None  # path of packaged weights, if installed
    cam_tokens: bool = False  # transformer: the CAM layer outputs tokens, not a feature map
    # a distilled network's other classifiers (Linear layers), cut out with the head: the
    # network then averages the features they read (DeiT's class and distillation tokens)
    other_heads: tuple[str, ...] = ()
    description: str = ""
    hidden: bool = False  # registered for tests or plugins, not listed to users
    extra: dict = field(default_factory=dict)
