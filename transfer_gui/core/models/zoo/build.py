"""Writing the zoo's cache: the facts torchvision's weight catalogue and timm's pretrained
configurations state, and parameter counts from building each timm architecture on the `meta`
device (no memory for weights). A thousand architectures take minutes, so this runs once per
pair of library versions; the package ships the result (`zoo.json.gz`, written by
`python -m transfer_gui.core.models.zoo.build`).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from .entry import ZooEntry, family_of, pretraining_of

Report = Callable[[int, int, str], None]
_FIXED_TV = ("vit_", "maxvit_")  # torchvision networks that take only their own input size


def curated_entries(torchvision: dict[str, ZooEntry]) -> list[ZooEntry]:
    """The hand-written backbones (`backbones.py`): the bundled Lite0 and torchvision's, with
    the facts of torchvision's entry when they use its default weights."""
    from ..backbones import list_specs

    entries = []
    for spec in list_specs():
        bundled = spec.bundled is not None
        known = torchvision.get(spec.name)
        if known is not None and known.url == spec.weights_url:
            entries.append(replace(known, id=spec.name, title=spec.title,
                                   description=spec.description or known.description))
            continue
        entries.append(ZooEntry(
            id=spec.name, source="bundled" if bundled else "torchvision", model=spec.name,
            architecture=spec.name, title=spec.title, family=family_of(spec.name),
            pretraining="in1k", params=spec.params, image_size=spec.image_size,
            resize_size=spec.resize_size, mean=tuple(spec.mean), std=tuple(spec.std),
            fixed_size=bool(spec.extra.get("fixed_size")), top1=spec.top1,
            url=spec.weights_url, description=spec.description,
        ))
    return entries


def torchvision_entries() -> list[ZooEntry]:
    """Every torchvision classifier with weights, with its default weights' facts."""
    import torchvision.models as tvm

    entries = []
    for name in tvm.list_models(module=tvm):
        weights = tvm.get_model_weights(name).DEFAULT
        entries.append(_torchvision_entry(name, weights))
    return entries


def _torchvision_entry(name: str, weights: Any) -> ZooEntry:
    meta = weights.meta
    evaluation = weights.transforms()
    interpolation = getattr(evaluation.interpolation, "value", str(evaluation.interpolation))
    return ZooEntry(
        id=f"torchvision/{name}", source="torchvision", model=name, architecture=name,
        title=name, family=family_of(name),
        pretraining="other" if "SWAG" in weights.name else "in1k",
        params=int(meta["num_params"]), image_size=int(evaluation.crop_size[0]),
        resize_size=int(evaluation.resize_size[0]), mean=tuple(evaluation.mean),
        std=tuple(evaluation.std), interpolation=str(interpolation),
        fixed_size=name.startswith(_FIXED_TV),
        top1=meta.get("_metrics", {}).get("ImageNet-1K", {}).get("acc@1"),
        gflops=meta.get("_ops"), file_mb=meta.get("_file_size"), url=weights.url,
        description=f"torchvision {type(weights).__name__}.{weights.name}",
    )


def meta_params(architecture: str) -> int | None:
    """Parameters of a timm architecture with a 1000-class head, built on the meta device."""
    import timm
    import torch

    options: tuple[dict[str, Any], ...] = ({"num_classes": 1000}, {})
    for kwargs in options:
        try:
            with torch.device("meta"):
                net = timm.create_model(architecture, pretrained=False, **kwargs)
        except Exception:  # noqa: BLE001 - some networks cannot be built on meta
            continue
        return sum(p.numel() for p in net.parameters())
    return None


def timm_entries(names: Iterable[str] | None = None, report: Report | None = None
                 ) -> list[ZooEntry]:
    """timm's pretrained models (`names`, default all), one architecture built once."""
    import timm
    from timm.models import get_pretrained_cfg

    names = list(timm.list_pretrained() if names is None else names)
    params: dict[str, int | None] = {}
    entries = []
    for done, name in enumerate(names):
        cfg = get_pretrained_cfg(name)
        if cfg is None:
            continue
        architecture = cfg.architecture or name.split(".")[0]
        if architecture not in params:
            if report is not None:
                report(done, len(names), architecture)
            params[architecture] = meta_params(architecture)
        entries.append(_timm_entry(name, architecture, cfg, params[architecture]))
    return entries


def _timm_entry(name: str, architecture: str, cfg: Any, params: int | None) -> ZooEntry:
    size = int(cfg.input_size[-1])
    crop = float(cfg.crop_pct or 0.875)
    return ZooEntry(
        id=f"timm/{name}", source="timm", model=name, architecture=architecture, title=name,
        family=family_of(architecture), pretraining=pretraining_of(name), params=params,
        image_size=size, resize_size=math.floor(size / crop), mean=tuple(cfg.mean),
        std=tuple(cfg.std), interpolation=str(cfg.interpolation or "bicubic"),
        fixed_size=bool(cfg.fixed_input_size),
        file_mb=round(params * 4 / 1e6, 1) if params else None,  # float32, about
        num_classes=int(cfg.num_classes or 0), url=cfg.url or None,
        hf_hub_id=cfg.hf_hub_id or None, license=str(cfg.license or ""),
    )


def all_entries(report: Report | None = None) -> list[ZooEntry]:
    tv = torchvision_entries()
    curated = curated_entries({e.model: e for e in tv})
    tv = [e for e in tv if e.model not in {c.model for c in curated}]
    try:
        import timm  # noqa: F401 - the second source is optional
    except ImportError:
        return curated + tv
    return curated + tv + timm_entries(report=report)


def _print_progress(done: int, total: int, what: str) -> None:
    if done % 50 == 0:
        print(f"{done}/{total} {what}", file=sys.stderr, flush=True)


if __name__ == "__main__":  # pragma: no cover - regenerates the shipped file
    from .store import SHIPPED, installed_versions, write_catalog

    target = sys.argv[1] if len(sys.argv) > 1 else str(SHIPPED)
    write_catalog(all_entries(_print_progress), target, installed_versions())
    print(f"wrote {target}")
