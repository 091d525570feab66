"""The prediction server: a run's model behind a local HTTP API (FastAPI and uvicorn, the
optional extra `serve`). A third front end beside the command line and the window, over the
engine's public interface only.

- `service`: decoding uploads, batching (`batcher`), answers and request statistics;
- `app`: the HTTP routes, errors as JSON; `limits`: the upload size limit;
- `server`: the socket and uvicorn, in the foreground or a background thread.
"""

from __future__ import annotations

PACKAGES = ("fastapi", "uvicorn", "python_multipart")
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8000
# The batching defaults, measured in tests/bench/bench_serve.py (BENCHMARKS.md (t)): images
# per forward pass, and how long a request waits for others to join it. On 2 CPU cores no
# batching gave the most requests/s at 16 clients (batching helped only at 4), so it is off
# unless asked for (--max-batch 16 --wait-ms 5 on a GPU or a larger CPU).
MAX_BATCH = 1
WAIT_S = 0.0
MAX_BODY = 20 * 2**20  # bytes per request: a photograph is a few MiB, base64 adds a third


def require_serve() -> None:
    """A clear message when the optional packages the server needs are missing."""
    from ..core import require_packages

    require_packages(PACKAGES, "serve", "the prediction server needs")
