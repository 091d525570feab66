"""The request body limit, enforced before any body reaches the application: a declared
length over it is answered at once, a streamed body is cut off when it passes it."""

from __future__ import annotations

import json
from typing import Any

from . import MAX_BODY
from .service import ServeError


def too_large_text(limit: int) -> str:
    return f"request body over the upload limit of {limit / 2**20:.0f} MiB"


class BodyLimit:
    """ASGI middleware: HTTP bodies longer than `limit` bytes get 413 and a JSON message."""

    def __init__(self, app: Any, limit: int = MAX_BODY) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _refuse(send, too_large_text(self.limit))
            return
        seen = 0

        async def counted() -> dict:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise ServeError(too_large_text(self.limit), 413)
            return message

        await self.app(scope, counted, send)


async def _refuse(send: Any, text: str) -> None:
    body = json.dumps({"error": text}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
