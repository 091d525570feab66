"""Where pretrained weights come from, fetching them, and reading weight files safely.

Sources: "bundled" (installed with the app), "cached" (already in torch's hub cache or, for
timm's models, in Hugging Face's cache), "download" (fetched into that cache on first use, with
progress), "file" (a state dict the user chose) or "none" (no pretrained weights exist).
Weight files are read with `torch.load(weights_only=True)` or safetensors, so a crafted file
cannot run code.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from pathlib import Path

import torch
from torch import nn

from ..atomic import atomic_path
from ..errors import UserError
from ..events import CancelToken, Work
from .backbones import BackboneSpec, TransferNet, split_network
from .zoo.caches import hf_weights_file, weights_here
from .zoo.catalog import load_catalog
from .zoo.entry import ZooEntry
from .zoo.fetch import fetch_hf, no_network, transfer_text
from .zoo.fetch import is_online as is_online  # the online check lives with the fetching

HASH_IN_NAME = re.compile(r"-([a-f0-9]{6,})\.")
OFFLINE = "this computer is offline"


class WeightsError(UserError, ValueError):
    """A weights file cannot be used; the message says why."""


def hub_checkpoint_dir() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def zoo_entry(spec: BackboneSpec) -> ZooEntry | None:
    """The zoo's entry of a `torchvision/...` or `timm/...` backbone (None for curated)."""
    return load_catalog().get(spec.name) if "/" in spec.name else None


def _timm_repo(spec: BackboneSpec) -> str | None:
    entry = zoo_entry(spec)
    return entry.hf_hub_id if entry is not None and entry.source == "timm" else None


def weights_url(spec: BackboneSpec) -> str | None:
    if spec.weights_url:
        return spec.weights_url
    entry = zoo_entry(spec)
    return entry.url if entry is not None and entry.source == "torchvision" else None


def cached_path(spec: BackboneSpec) -> Path | None:
    if (repo := _timm_repo(spec)) is not None:
        return hf_weights_file(repo)
    url = weights_url(spec)
    return hub_checkpoint_dir() / os.path.basename(url) if url else None


def weights_source(spec: BackboneSpec, weights_file: str | None = None) -> str:
    if weights_file:
        return "file"
    if spec.bundled and spec.bundled():
        return "bundled"
    if _timm_repo(spec) is not None and (entry := zoo_entry(spec)) is not None:
        return weights_here(entry)
    cached = cached_path(spec)
    if cached is not None and cached.is_file():
        return "cached"
    return "download" if weights_url(spec) else "none"


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a state dict from `.safetensors` or a torch file, never executing code from it."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to parse is the file's fault
        raise WeightsError(
            f"{path.name} is not a plain weights file and was refused (it may contain code, "
            f"or be damaged): {_first_line(exc)}"
        ) from None
    return _unwrap(state, path)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _unwrap(state: object, path: Path) -> dict[str, torch.Tensor]:
    # Checkpoints often nest the weights under "state_dict" or "model".
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path.name} does not hold a state dict (names -> tensors)")
    return {k.removeprefix("module."): v for k, v in state.items()}


def download(
    spec: BackboneSpec,
    task: Work | None = None,
    url: str | None = None,
) -> Path:
    """Fetch `spec`'s weights into the torch hub cache (atomically) and return the path."""
    url = url or weights_url(spec)
    if url is None:
        raise WeightsError(f"{spec.name} has no download address")
    return download_url(url, spec.name, spec.title, task or Work())


def download_url(url: str, name: str, title: str, task: Work) -> Path:
    """`url` into torch's hub cache, with progress (size and speed), cancel and hash check."""
    target = hub_checkpoint_dir() / os.path.basename(url)
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    task.progress(0, 0, f"download {name}")
    start = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            total = int(response.headers.get("Content-Length") or 0)
            with atomic_path(target) as tmp, open(tmp, "wb") as out:
                done = 0
                while chunk := response.read(1 << 20):
                    task.check()
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    task.progress(done, total, transfer_text(name, done, total,
                                                             time.monotonic() - start))
                _check_hash(target.name, digest.hexdigest())
    except OSError as exc:
        why = why_not_downloaded(exc)
        if why == OFFLINE:
            raise WeightsError(no_network(name)) from None
        raise WeightsError(
            f"Cannot download the {title} weights: {why}. Connect to "
            "the internet once (they are then kept on this computer), or choose a bundled "
            "backbone or a weights file."
        ) from None
    return target


def fetch_weights(model_id: str, callbacks: Work | Iterable = (),
                  cancel: CancelToken | None = None) -> Path:
    """Put `model_id`'s pretrained weights on this computer (torch's or Hugging Face's cache,
    where other tools find them too) and return the file."""
    task = Work.of(callbacks, cancel)
    entry = load_catalog().get(model_id)
    if entry is not None and entry.hf_hub_id and entry.source == "timm":
        return fetch_hf(entry.hf_hub_id, task)
    if entry is not None and entry.url:
        here = hub_checkpoint_dir() / os.path.basename(entry.url)
        return here if here.is_file() else download_url(entry.url, entry.id, entry.title, task)
    raise WeightsError(f"{model_id} has no pretrained weights to download")


def why_not_downloaded(exc: OSError) -> str:
    """What went wrong with a download, in words (not urllib's "<urlopen error [Errno -3]>")."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"the server answered {exc.code} {exc.reason}"
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, TimeoutError):
        return "the server did not answer in time"
    if isinstance(reason, (socket.gaierror, ConnectionError)) or getattr(
            reason, "errno", None) in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return OFFLINE
    if isinstance(reason, FileNotFoundError):
        return "there is no file at its address"
    return getattr(reason, "strerror", None) or str(reason)


def _check_hash(name: str, hexdigest: str) -> None:
    match = HASH_IN_NAME.search(name)
    if match and not hexdigest.startswith(match.group(1)):
        raise WeightsError(f"downloaded {name} is damaged (checksum mismatch); try again")


def pretrained_state(spec: BackboneSpec, task: Work) -> dict[str, torch.Tensor] | None:
    """The ImageNet weights of `spec` (downloading them if needed), or None if it has none;
    without the tensors of parts the architecture leaves out (`extra["ignore_keys"]`: the
    auxiliary classifiers of GoogLeNet and Inception, which only their training used)."""
    state = _pretrained_file_state(spec, task)
    ignore = tuple(spec.extra.get("ignore_keys", ()))
    if state is None or not ignore:
        return state
    return {k: v for k, v in state.items() if not k.startswith(ignore)}


def _pretrained_file_state(spec: BackboneSpec, task: Work) -> dict[str, torch.Tensor] | None:
    source = weights_source(spec)
    if (repo := _timm_repo(spec)) is not None:
        return None if source == "none" else read_state_dict(fetch_hf(repo, task))
    if source == "bundled" and spec.bundled is not None and (bundled := spec.bundled()):
        return read_state_dict(bundled)
    if source == "cached" and (cached := cached_path(spec)) is not None:
        return read_state_dict(cached)
    if source == "download":
        return read_state_dict(download(spec, task))
    return None


def load_into(net: nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    """Load strictly, turning a mismatch into a message that names it."""
    own = net.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in own.items()
        if k in state and state[k].shape != v.shape
    ]
    if missing or unexpected or wrong:
        raise WeightsError(_mismatch(what, missing, unexpected, wrong))
    net.load_state_dict(state, strict=True)


def _mismatch(what: str, missing: list, unexpected: list, wrong: list) -> str:
    parts = [f"{what} does not match the architecture:"]
    if wrong:
        parts.append(f"{len(wrong)} tensors have other shapes (e.g. {wrong[0]})")
    if missing:
        parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
    return " ".join(parts)


def build_model(
    spec: BackboneSpec,
    num_classes: int | None,
    pretrained: bool = True,
    weights_file: str | None = None,
    callbacks: Work | Iterable = (),
    cancel: CancelToken | None = None,
) -> TransferNet:
    """The backbone with a new `num_classes` head (or its ImageNet head when None).

    `weights_file` may hold the original network's state dict (any head), or a TransferNet
    state dict saved by this app; with another class count its head is started afresh.
    `callbacks` may be a `Work` (then `cancel` is not used).
    """
    task = Work.of(callbacks, cancel)
    net = spec.builder()
    if weights_file:
        state = read_state_dict(weights_file)
        if any(k.startswith("body.") for k in state):
            return _from_transfer_state(spec, net, num_classes, state, weights_file, task)
        _load_original(spec, net, state, Path(weights_file).name)
    elif pretrained:
        known = pretrained_state(spec, task)
        if known is not None and _timm_repo(spec) is not None:
            _load_original(spec, net, known, f"the {spec.title} weights")
        elif known is not None:
            load_into(net, known, f"the {spec.title} weights")
    else:
        _fresh_batchnorm(net)
    return split_network(spec, net, num_classes)


def check_weights_file(backbone: str, path: str, num_classes: int) -> None:
    """Raise `WeightsError` (in words) unless `path` loads into `backbone`: a file made for
    another architecture is refused when chosen, not at Start."""
    from .backbones import get_spec

    build_model(get_spec(backbone), max(num_classes, 2), weights_file=path)


def _fresh_batchnorm(net: nn.Module) -> None:
    """Random weights: let BatchNorm's running statistics follow the training batches at
    PyTorch's default rate. Networks ported from TensorFlow (EfficientNet, MobileNetV3) use
    momentum 0.01, tuned for long ImageNet runs from settled statistics; from scratch on a
    short run the statistics would still be near their initial values at the end, and every
    image would look the same in evaluation mode."""
    for module in net.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.momentum is not None:
            module.momentum = max(module.momentum, 0.1)


def timm_layout(net: nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A checkpoint as timm's own loader would hand it to `net`: its module's
    `checkpoint_filter_fn` (where it has one) renames and reshapes original releases."""
    import sys

    module = sys.modules.get(type(net).__module__)
    adapt = getattr(module, "checkpoint_filter_fn", None)
    if adapt is None or set(state) == set(net.state_dict()):
        return state
    try:
        return adapt(state, net)
    except Exception:  # noqa: BLE001 - keep the file as it is: the strict load names why
        return state


def _load_original(spec: BackboneSpec, net: nn.Module, state: dict, name: str) -> None:
    """A file for another head size is fine: only the backbone part must match; a file for
    another architecture is refused in words that say so."""
    state = timm_layout(net, state)
    head_keys = {f"{h}.{k}" for h in (spec.head_path, *spec.other_heads)
                 for k in ("weight", "bias")}
    own_head = {k: v for k, v in net.state_dict().items() if k in head_keys}
    if not all(k in state and state[k].shape == v.shape for k, v in own_head.items()):
        state = {**{k: v for k, v in state.items() if k not in head_keys}, **own_head}
    try:
        load_into(net, state, name)
    except WeightsError as exc:
        raise WeightsError(f"{name} was made for another architecture than {spec.title}: "
                           f"{exc}") from None


def _from_transfer_state(
    spec: BackboneSpec, net: nn.Module, num_classes: int | None, state: dict, path: str,
    task: Work,
) -> TransferNet:
    saved_classes = state["head.weight"].shape[0] if "head.weight" in state else None
    model = split_network(spec, net, num_classes or saved_classes)
    if saved_classes != model.num_classes:
        task.message("info", f"{Path(path).name} was trained for {saved_classes} classes, this "
                             f"data has {model.num_classes}: its body is used and the head "
                             "starts afresh")
        state = {k: v for k, v in state.items() if not k.startswith("head.")}
        state.update({f"head.{k}": v for k, v in model.head.state_dict().items()})
    load_into(model, state, Path(path).name)
    return model
