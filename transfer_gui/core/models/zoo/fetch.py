"""Downloading a timm model's weights into Hugging Face's own cache, with progress (size and
speed), cancellation, and the file checked against the hash the hub names it by."""

from __future__ import annotations

import hashlib
import socket
import time
import urllib.parse
from pathlib import Path
from typing import Any

from ...errors import UserError
from ...events import Work
from .caches import HF_WEIGHT_FILES, hf_weights_file

NO_NETWORK = "no network: load a weights file or pick a model whose weights are on this computer"


def no_network(name: str) -> str:
    """The offline sentence for one model (a failed Start names what it could not fetch)."""
    return NO_NETWORK.replace("no network:", f"no network to download the {name} weights:", 1)


class FetchError(UserError, ValueError):
    """Weights could not be had; the message says why and what to do."""


def transfer_text(what: str, done: int, total: int, seconds: float) -> str:
    """"download resnet18: 12.3 of 44.7 MB, 5.1 MB/s"."""
    size = f"{done / 1e6:.1f} of {total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"
    speed = f", {done / 1e6 / seconds:.1f} MB/s" if seconds > 0.05 else ""
    return f"download {what}: {size}{speed}"


def _reporter(task: Work, what: str) -> type:
    """A tqdm stand-in for `hf_hub_download`: progress events, and the task's cancel."""
    from tqdm.auto import tqdm

    class Report(tqdm):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            self.done = 0
            self.start = time.monotonic()

        def update(self, n: float | None = 1) -> bool | None:
            task.check()
            self.done += int(n or 0)
            total = int(self.total or 0)
            task.progress(self.done, total,
                          transfer_text(what, self.done, total, time.monotonic() - self.start))
            return None

    return Report


def is_online(url: str, timeout: float = 3.0) -> bool:
    """Whether the server of `url` can be reached (a connection, nothing downloaded)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":
        return True
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname or "", port), timeout=timeout).close()
    except OSError:
        return False
    return True


def fetch_hf(repo_id: str, task: Work | None = None) -> Path:
    """The weights of `repo_id` from Hugging Face's cache, downloaded there first if needed."""
    task = task or Work()
    here = hf_weights_file(repo_id)
    if here is not None:
        return here
    import huggingface_hub
    from huggingface_hub.constants import ENDPOINT
    from huggingface_hub.errors import RemoteEntryNotFoundError

    if not is_online(ENDPOINT):  # at once, not after the hub's five retries
        raise FetchError(no_network(repo_id))
    for name in HF_WEIGHT_FILES:
        try:
            path = Path(huggingface_hub.hf_hub_download(
                repo_id, name, tqdm_class=_reporter(task, repo_id), library_name="timm"))
        except RemoteEntryNotFoundError:
            continue
        except Exception as exc:  # noqa: BLE001 - a refused or failed connection, in words
            raise _fetch_error(repo_id, exc) from None
        check_blob(path)
        return path
    raise FetchError(f"{repo_id} has no weights file the app can read")


def _fetch_error(repo_id: str, exc: Exception) -> Exception:
    from ...events import Cancelled

    if isinstance(exc, Cancelled):
        return exc
    text = f"{type(exc).__name__} {exc}".lower()
    if any(word in text for word in ("connect", "offline", "resolve", "network", "timed out",
                                     "timeout", "refused", "unreachable", "localentrynotfound")):
        return FetchError(no_network(repo_id))
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]  # "" has no line
    return FetchError(f"Cannot download the {repo_id} weights: {first[:200]}")


def check_blob(path: Path) -> None:
    """The hub names a large file's blob by its SHA-256: a file that does not hash to its
    name is damaged, and is removed so that the next try fetches it again."""
    blob = path.resolve()
    if len(blob.name) != 64:
        return  # a small file, named by a git hash: nothing to compare
    digest = hashlib.sha256()
    with open(blob, "rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    if digest.hexdigest() != blob.name:
        blob.unlink(missing_ok=True)
        path.unlink(missing_ok=True)
        raise FetchError(f"the downloaded {path.name} is damaged (checksum mismatch); try again")
