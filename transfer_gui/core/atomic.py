"""Atomic file writes: write a temporary file in the same folder, flush it to disk, then
`os.replace` it over the target, so a crash leaves either the old file or the new one.

Every file the app writes goes through here. A writer killed mid-write leaves only its
temporary file (named after the target and its process id), which the next write removes.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to `target`; on success it replaces `target`."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp",
                                   dir=target.parent)
    except OSError as exc:
        raise _naming(exc, target) from None
    os.close(fd)
    os.chmod(tmp, _mode_for(target))
    try:
        yield Path(tmp)
        _fsync(tmp)
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise (_naming(exc, target) if exc.filename == tmp else exc) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _naming(exc: OSError, target: Path) -> OSError:
    """`exc` about the temporary file, told of the file the user asked for: the temporary
    name means nothing to them."""
    return type(exc)(exc.errno, exc.strerror or "cannot be written", str(target))


def sweep(target: Path) -> int:
    """Delete the temporary files that writers of `target` which were killed mid-write left
    behind (their process id is in the name); return how many were removed."""
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows
        return 0
    prefix = f".{target.name}."
    removed = 0
    with contextlib.suppress(OSError), os.scandir(target.parent) as entries:
        for entry in entries:
            pid = _writer_pid(entry.name, prefix)
            if pid is not None and not process_alive(pid):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                    removed += 1
    return removed


def _writer_pid(name: str, prefix: str) -> int | None:
    if not (name.startswith(prefix) and name.endswith(".tmp")):
        return None
    pid = name[len(prefix):].split(".", 1)[0]
    return int(pid) if pid.isdigit() else None


def process_alive(pid: int) -> bool:
    """Whether process `pid` of this computer still runs (as far as this user can tell)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists but belongs to someone else
    return True


def _mode_for(target: Path) -> int:
    """Keep an existing file's permissions; new files get the usual rw-r--r--."""
    try:
        return target.stat().st_mode & 0o777
    except OSError:
        return 0o644


def _fsync(path: str | os.PathLike[str]) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text(target: str | os.PathLike[str], text: str) -> None:
    """UTF-8; file names that are not valid UTF-8 (surrogate escapes) keep their bytes."""
    write_bytes(target, text.encode("utf-8", "surrogateescape"))


def write_json(target: str | os.PathLike[str], data: Any) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # A file name that is not UTF-8: \udcXX escapes keep the file valid UTF-8 JSON and
        # turn back into the same name on loading.
        text = json.dumps(data, indent=2, ensure_ascii=True)
    write_text(target, text + "\n")
