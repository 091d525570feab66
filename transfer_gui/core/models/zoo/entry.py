"""One model of the zoo and the words that classify it (family, pretraining, size)."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

PRETRAINING_TEXT = {
    "in1k": "ImageNet-1k",
    "in21k": "ImageNet-21k/22k",
    "self-supervised": "self-supervised",
    "image-text": "image-text",
    "other": "other",
}
# Markers in a timm name (architecture and tag), tried in this order: the first stage of
# training decides, so "fcmae_ft_in1k" is self-supervised and "in22k_ft_in1k" is 21k.
_PRETRAINING_MARKERS = (
    ("image-text", ("clip", "openai", "laion", "webli", "siglip", "datacomp", "dfn", "apple_pt",
                    "cc12m", "metaclip", "aimv2")),
    ("self-supervised", ("dino", "mae", "mim", "lvd142m", "lvd1689m", "ijepa", "moco",
                         "simclr", "byol")),
    ("other", ("swsl", "_ssl", "ig1b", "ig3b", "yfcc100m", "jft")),  # hashtags, semi-supervised
    ("in21k", ("in21k", "in22k", "in12k", "21k", "22k")),
    ("in1k", ("in1k", "imagenet")),
)
_NAME_PREFIXES = ("tf_", "tv_", "tv2_", "gluon_", "legacy_", "timm_", "tiny_")


@dataclass(frozen=True)
class ZooEntry:
    """What the list knows of a model without building it (facts read once into the cache)."""

    id: str  # the name a run config uses: "resnet18", "torchvision/regnet_y_400mf", "timm/x.tag"
    source: str  # "bundled", "torchvision" or "timm"
    model: str  # the builder name (torchvision) or the pretrained name with its tag (timm)
    architecture: str
    title: str
    family: str
    pretraining: str  # a key of PRETRAINING_TEXT
    params: int | None  # with the 1000-class ImageNet head
    image_size: int  # the evaluation crop
    resize_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    interpolation: str = "bilinear"
    fixed_size: bool = False  # the network accepts only its own input size
    top1: float | None = None  # ImageNet-1k accuracy, %
    gflops: float | None = None
    file_mb: float | None = None  # size of the weights download, MB
    num_classes: int = 1000  # of the pretrained head (0: features only)
    url: str | None = None  # a direct download address (torchvision)
    hf_hub_id: str | None = None  # the Hugging Face repository (timm)
    license: str = ""
    recommended: bool = False
    description: str = ""

    def to_json(self) -> dict[str, Any]:
        # not dataclasses.asdict: its deep copy takes 0.3 s over the whole zoo
        return {name: getattr(self, name) for name in _FIELDS}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ZooEntry:
        values = {k: v for k, v in data.items() if k in _FIELDS}
        for key in ("mean", "std"):
            values[key] = tuple(values.get(key) or ())
        if values.get("source") == "timm":  # by today's rules: a rule change needs no rebuild
            values["family"] = family_of(values["architecture"])
            values["pretraining"] = pretraining_of(values["model"])
        return cls(**values)

    def search_text(self) -> str:
        """What a search matches: names, family, pretraining words and source."""
        return " ".join((self.id, self.title, self.family, self.pretraining,
                         PRETRAINING_TEXT.get(self.pretraining, ""), self.source,
                         self.description)).lower()


_FIELDS = tuple(f.name for f in fields(ZooEntry))


def family_of(architecture: str) -> str:
    """"resnet50d" -> "resnet", "convnextv2_tiny" -> "convnextv2", "efficientnet_v2_s" ->
    "efficientnetv2" (torchvision's and timm's spellings of a family meet)."""
    name = architecture.lower()
    for prefix in _NAME_PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix):
            name = name[len(prefix):]
    if name.startswith("wide_resnet"):
        return "wide_resnet"
    match = re.match(r"[a-z]+", name)
    word = match.group(0) if match else name
    rest = name[len(word):]
    version = re.match(r"\d+" if word.endswith("v") else r"_v\d+", rest)
    return (word + version.group(0) if version else word).replace("_", "")


def pretraining_of(name: str) -> str:
    """The first stage of pretraining a timm name (architecture.tag) states."""
    lowered = name.lower()
    for kind, markers in _PRETRAINING_MARKERS:
        if any(marker in lowered for marker in markers):
            return kind
    return "other"


def size_text(params: int | None) -> str:
    return f"{params / 1e6:.1f} M" if params else "–"
