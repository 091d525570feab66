"""The zoo's cache file: gzip'd JSON with its format and the library versions it was read
from. Written by `build` (and shipped as `zoo.json.gz`), read by `catalog`."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from ...atomic import atomic_path
from .entry import ZooEntry

FORMAT = 1
SHIPPED = Path(__file__).with_name("zoo.json.gz")


def installed_versions() -> dict[str, str | None]:
    """The libraries the list is made from, read from their metadata (no import)."""
    found: dict[str, str | None] = {}
    for name in ("torchvision", "timm"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def write_catalog(entries: Iterable[ZooEntry], path: str | os.PathLike[str],
                  versions: dict[str, str | None]) -> Path:
    data = {"format": FORMAT, "versions": versions,
            "entries": [e.to_json() for e in entries]}
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # mtime 0: the same list gives the same bytes
    with atomic_path(target) as tmp, open(tmp, "wb") as raw, \
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
        out.write(json.dumps(data, separators=(",", ":")).encode())
    return target


def read_catalog(path: Path) -> tuple[dict[str, str | None], list[ZooEntry]] | None:
    """The versions and entries of a cache file; None if it is missing or unreadable."""
    try:
        with gzip.open(path, "rb") as raw:
            data = json.loads(raw.read())
        if data.get("format") != FORMAT:
            return None
        return data["versions"], [ZooEntry.from_json(e) for e in data["entries"]]
    except (OSError, ValueError, KeyError, TypeError, EOFError):
        return None
