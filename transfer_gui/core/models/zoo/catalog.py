"""The zoo's list, read from a cache on disk so that listing never imports torch.

The cache is keyed by the installed torchvision and timm versions: the package ships one for
the versions it was released with (`zoo.json.gz`); with other versions the list is built once
(minutes: every timm architecture is built on the meta device to count its parameters) and kept
in the app's data folder. The curated backbones come first, then the recommended ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from ...places import data_home
from .entry import ZooEntry
from .store import FORMAT, SHIPPED, installed_versions, read_catalog, write_catalog

DEFAULT = "efficientnet_lite0"  # bundled: works offline
# Modern backbones people fine-tune, shown right after the curated ones.
RECOMMENDED = (
    "timm/convnextv2_tiny.fcmae_ft_in22k_in1k",
    "timm/convnext_tiny.fb_in22k",
    "timm/vit_small_patch14_dinov2.lvd142m",
    "timm/vit_small_patch16_224.dino",
    "timm/efficientnetv2_rw_s.ra2_in1k",
    "timm/tf_efficientnetv2_s.in21k_ft_in1k",
    "timm/regnety_040.ra3_in1k",
    "timm/swin_tiny_patch4_window7_224.ms_in22k_ft_in1k",
    "timm/maxvit_tiny_rw_224.sw_in1k",
    "timm/eva02_tiny_patch14_336.mim_in22k_ft_in1k",
    "timm/mobilenetv4_conv_small.e2400_r224_in1k",
    "timm/fastvit_t8.apple_in1k",
    "torchvision/regnet_y_400mf",
    "torchvision/efficientnet_v2_s",
    "torchvision/swin_t",
)
Report = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Catalog:
    entries: list[ZooEntry]
    versions: dict[str, str | None]
    origin: str  # "shipped", "cache" or "built"

    def get(self, model_id: str) -> ZooEntry | None:
        return next((e for e in self.entries if e.id == model_id), None)

    def counts(self) -> dict[str, int]:
        result: dict[str, int] = {}
        for entry in self.entries:
            result[entry.source] = result.get(entry.source, 0) + 1
        return result


def user_cache(versions: dict[str, str | None]) -> Path:
    key = "-".join(f"{k}{v or 'none'}" for k, v in sorted(versions.items()))
    return data_home() / "zoo" / f"zoo-{FORMAT}-{key}.json.gz"


_LOADED: Catalog | None = None


def load_catalog(report: Report | None = None, rebuild: bool = False) -> Catalog:
    """The zoo for the installed versions: shipped, cached, or built now (and cached)."""
    global _LOADED
    versions = installed_versions()
    if _LOADED is not None and _LOADED.versions == versions and not rebuild:
        return _LOADED
    found = None if rebuild else _cached(versions)
    if found is None:
        from .build import all_entries

        entries = all_entries(report)
        write_catalog(entries, user_cache(versions), versions)
        found = Catalog([ZooEntry.from_json(e.to_json()) for e in entries], versions, "built")
    _LOADED = replace(found, entries=_ordered(found.entries))
    return _LOADED


def _cached(versions: dict[str, str | None]) -> Catalog | None:
    for origin, path in (("shipped", SHIPPED), ("cache", user_cache(versions))):
        read = read_catalog(path)
        if read is not None and read[0] == versions:
            return Catalog(read[1], versions, origin)
    return None


def _ordered(entries: list[ZooEntry]) -> list[ZooEntry]:
    """Curated first (the offline default at the very top), then recommended, then the rest."""
    picked = set(RECOMMENDED)
    marked = [replace(e, recommended=True) if (e.id in picked or "/" not in e.id)
              and not e.recommended else e for e in entries]
    rank = {name: i for i, name in enumerate(RECOMMENDED)}

    def key(entry: ZooEntry) -> tuple[int, int, str]:
        if entry.id == DEFAULT:
            return (0, 0, "")
        if "/" not in entry.id:
            return (1, 0, "")  # curated: in their own order
        return (2, rank[entry.id], "") if entry.id in rank else (3, 0, entry.id)

    return sorted(marked, key=key)


def search_zoo(entries: Iterable[ZooEntry], text: str) -> list[ZooEntry]:
    """Entries whose names, family, pretraining or source hold every word of `text`."""
    words = text.lower().split()
    return [e for e in entries if all(w in e.search_text() for w in words)]
