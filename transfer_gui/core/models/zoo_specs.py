"""Backbone specs for the whole zoo, made on demand: "torchvision/<builder>" (that builder's
default weights) and "timm/<model>.<tag>" (a timm pretrained model).

The architecture is built on the `meta` device (no weights allocated) to find its layer groups,
classifier and Grad-CAM layer (`grouping`); the preprocessing comes from torchvision's weight
catalogue or timm's `pretrained_cfg`. The builders make random-init networks; the pretrained
weights are found through `spec.extra` ("source", "model") by the weights code.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

from torch import nn

from ..config import ConfigError
from .grouping import Found, build_on_meta, rule_for, timm_found, torchvision_found
from .spec import BackboneSpec

SOURCES = ("torchvision", "timm")
# checkpoint entries of the auxiliary classifiers the builders leave out (weights: skip them)
_AUX = {"googlenet": ("aux1.", "aux2."), "inception": ("AuxLogits.",)}


def is_zoo_id(name: str) -> bool:
    return name.partition("/")[0] in SOURCES and bool(name.partition("/")[2])


@functools.lru_cache(maxsize=256)
def zoo_spec(name: str) -> BackboneSpec:
    """The spec of a zoo id; ConfigError when the library does not know the model."""
    source, _, model = name.partition("/")
    if source == "timm":
        return _timm_spec(name, model)
    return _torchvision_spec(name, model)


# --- torchvision --------------------------------------------------------------------------


def _tv_builder(model: str) -> Callable[[], nn.Module]:
    rule = rule_for(model)
    kwargs = dict(rule.kwargs) if rule else {}

    def build() -> nn.Module:
        import torchvision.models as tvm

        return tvm.get_model(model, weights=None, **kwargs)

    return build


def _torchvision_spec(name: str, model: str) -> BackboneSpec:
    import torchvision.models as tvm

    if model not in tvm.list_models(module=tvm):
        raise ConfigError(f"torchvision has no classification model {model!r}")
    entry: Any = tvm.get_model_weights(model).DEFAULT
    evaluation = entry.transforms()
    size = int(evaluation.crop_size[0])
    builder = _tv_builder(model)
    net = build_on_meta(builder)
    found = torchvision_found(model, net, size)
    fixed = model.startswith(("vit_", "maxvit"))
    return _spec(name, f"{model} (torchvision)", builder, net, found, size,
                 int(evaluation.resize_size[0]), tuple(evaluation.mean), tuple(evaluation.std),
                 top1=entry.meta.get("_metrics", {}).get("ImageNet-1K", {}).get("acc@1"),
                 weights_url=entry.url,
                 extra={"source": "torchvision", "model": model, "weights": str(entry),
                        "interpolation": str(evaluation.interpolation.value),
                        "fixed_size": fixed, "ignore_keys": _AUX.get(model.split("_")[0], ())})


# --- timm ---------------------------------------------------------------------------------


def _timm_builder(model: str) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        import timm

        return timm.create_model(model, pretrained=False)

    return build


def _timm_spec(name: str, model: str) -> BackboneSpec:
    try:
        import timm
    except ImportError:  # pragma: no cover - timm is a dependency
        raise ConfigError("timm models need the timm package (pip install timm)") from None
    if not timm.is_model(model.partition(".")[0]):
        raise ConfigError(f"timm has no model {model!r}")
    builder = _timm_builder(model)
    net: Any = build_on_meta(builder)
    cfg = dict(net.pretrained_cfg)
    size = int(cfg.get("input_size", (3, 224, 224))[-1])
    found = timm_found(net, size)
    crop = float(cfg.get("crop_pct") or 0.875)
    return _spec(name, f"{model} (timm)", builder, net, found, size,
                 math.floor(size / crop), tuple(cfg.get("mean", (0.485, 0.456, 0.406))),
                 tuple(cfg.get("std", (0.229, 0.224, 0.225))),
                 extra={"source": "timm", "model": model, "hf_hub_id": cfg.get("hf_hub_id"),
                        "interpolation": cfg.get("interpolation", "bicubic"),
                        "fixed_size": bool(cfg.get("fixed_input_size"))})


# --- shared -------------------------------------------------------------------------------


def _spec(name: str, title: str, builder: Callable[[], nn.Module], net: nn.Module, found: Found,
          size: int, resize: int, mean: tuple, std: tuple, extra: dict,
          top1: float | None = None, weights_url: str | None = None) -> BackboneSpec:
    return BackboneSpec(
        name=name, title=title, builder=builder, groups=found.groups,
        head_path=found.head_path, cam_layer=found.cam_layer, cam_tokens=found.cam_tokens,
        other_heads=found.other_heads,
        image_size=size, resize_size=max(resize, size), mean=mean, std=std,
        params=sum(p.numel() for p in net.parameters()), top1=top1, weights_url=weights_url,
        description=f"{len(found.groups)} layer groups", extra=extra)
