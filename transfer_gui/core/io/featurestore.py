"""The on-disk cache: where it lives, and the store of backbone features.

Features are kept per *namespace*: one backbone body (identified by a hash of its weights and
buffers), one preprocessing and one numeric precision. Inside a namespace each image is
identified by the hash of its file's bytes, so a renamed or moved file still hits and a changed
file misses. Entries are written in shards (`<name>.npy` rows plus `<name>.json` listing their
digests, the JSON written last), each atomically, so a crash or a concurrent run never leaves a
half-written entry that a reader would trust.

    CACHE/features/<backbone>-<key hash>/key.json       what the namespace holds, for people
    CACHE/features/<backbone>-<key hash>/<shard>.npy    float32 rows
    CACHE/features/<backbone>-<key hash>/<shard>.json   {"digests": [...], "dim": D}
    CACHE/spill/                                        memory-mapped decoded images (temporary)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import atomic

ENV_DIR = "TRANSFER_GUI_CACHE_DIR"
FORMAT = 1
MAX_SHARDS = 32  # more than this in a namespace: merge them into one


def cache_root() -> Path:
    """The cache folder: `$TRANSFER_GUI_CACHE_DIR`, else the user's cache folder."""
    configured = os.environ.get(ENV_DIR)
    if configured:
        return Path(configured).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("transfer_gui", appauthor=False))


def cache_usage(root: Path | None = None) -> dict[str, int]:
    """Bytes used per top-level part of the cache ("features", "spill", ...)."""
    root = root or cache_root()
    usage: dict[str, int] = {}
    if not root.is_dir():
        return usage
    for part in sorted(p for p in root.iterdir() if p.is_dir()):
        usage[part.name] = sum(f.stat().st_size for f in part.rglob("*") if f.is_file())
    return usage


def clear_cache(root: Path | None = None) -> int:
    """Delete the feature cache and the decoded-image spill files in the cache folder;
    returns the bytes freed. The spill folder itself stays (a running run creates its files
    there); a file a running process holds open where the system refuses to delete it is
    left alone (where it allows, the file stays readable until that process closes it)."""
    root = root or cache_root()
    freed = cache_usage(root).get("features", 0)
    shutil.rmtree(root / "features", ignore_errors=True)
    spill = root / "spill"
    for path in sorted(spill.iterdir()) if spill.is_dir() else ():
        with contextlib.suppress(OSError):
            freed += _remove(path)
    return freed


def _remove(path: Path) -> int:
    """Delete a file or folder; returns its size in bytes."""
    if not path.is_dir():
        size = path.stat().st_size
        path.unlink()
        return size
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    shutil.rmtree(path)
    return size


def fingerprint(module: nn.Module) -> str:
    """A hash of every parameter and buffer of `module` (names, dtypes, shapes and values)."""
    digest = hashlib.blake2b(digest_size=16)
    for name, tensor in module.state_dict().items():
        data = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{data.dtype}|{tuple(data.shape)}|".encode())
        digest.update(data.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def namespace_key(backbone: str, body: nn.Module, preprocess: dict[str, Any],
                  precision: str) -> dict[str, Any]:
    """Everything the features of one image depend on, apart from the image itself."""
    return {"format": FORMAT, "backbone": backbone, "body": fingerprint(body),
            "preprocess": preprocess, "precision": precision}


class FeatureStore:
    """Cached feature rows of one namespace, looked up by file digest."""

    def __init__(self, key: dict[str, Any], root: Path | None = None) -> None:
        blob = json.dumps(key, sort_keys=True).encode()
        name = f"{key.get('backbone', 'model')}-{hashlib.blake2b(blob, digest_size=8).hexdigest()}"
        self.key = key
        self.folder = (root or cache_root()) / "features" / name

    def exists(self) -> bool:
        return (self.folder / "key.json").is_file()

    def _shards(self) -> list[tuple[Path, list[str]]]:
        """(rows file, digests) of every complete shard, oldest first."""
        found = []
        for index in sorted(self.folder.glob("*.json")):
            if index.name == "key.json":
                continue
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                digests = list(json.loads(index.read_text(encoding="utf-8"))["digests"])
                found.append((index.with_suffix(".npy"), digests))
        return found

    def find(self, digests: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached row of each digest that has one."""
        wanted = {d for d in digests if d}
        rows: dict[str, np.ndarray] = {}
        for path, names in self._shards():
            todo = [(i, d) for i, d in enumerate(names) if d in wanted and d not in rows]
            if not todo:
                continue
            try:
                table = np.load(path, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError):
                continue  # removed by a concurrent merge, or damaged: recompute those
            if table.ndim != 2 or len(table) != len(names):
                continue
            for i, digest in todo:
                rows[digest] = np.array(table[i], dtype=np.float32)
        return rows

    def add(self, digests: Sequence[str], rows: np.ndarray) -> None:
        """Store `rows` (N x D float32) under `digests` as one new shard."""
        if not len(digests):
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        if not self.exists():
            atomic.write_json(self.folder / "key.json", self.key)
        self._write_shard(list(digests), np.ascontiguousarray(rows, dtype=np.float32))
        if len(self._shards()) > MAX_SHARDS:
            self.merge()

    def _write_shard(self, digests: list[str], rows: np.ndarray) -> None:
        name = f"{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
        with atomic.atomic_path(self.folder / f"{name}.npy") as tmp, open(tmp, "wb") as out:
            np.save(out, rows, allow_pickle=False)
        atomic.write_json(self.folder / f"{name}.json", {"digests": digests,
                                                         "dim": int(rows.shape[1])})

    def merge(self) -> None:
        """Rewrite all shards as one (the new one is complete before the old ones go)."""
        shards = self._shards()
        names = list(dict.fromkeys(d for _, ds in shards for d in ds))
        rows = self.find(names)
        kept = [d for d in names if d in rows]
        if kept:
            self._write_shard(kept, np.stack([rows[d] for d in kept]))
        for path, _ in shards:
            for old in (path.with_suffix(".json"), path):  # index first: readers skip it
                with contextlib.suppress(OSError):
                    old.unlink()
