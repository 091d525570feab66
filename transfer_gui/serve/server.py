"""Running the service on a socket with uvicorn: in the foreground (the command line) or in a
background thread (the window), stopped on request.

Safe by default: it binds 127.0.0.1; an address other machines can reach needs a bearer token
or an explicit choice of no authentication.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from typing import Any

from . import DEFAULT_HOST, DEFAULT_PORT, MAX_BODY
from .app import create_app
from .service import ServeError, Service


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_host(host: str, token: str | None, no_auth: bool) -> None:
    """Refuse to listen beyond this machine without a token or an explicit --no-auth."""
    if is_loopback(host) or token or no_auth:
        return
    raise ServeError(f"{host} can be reached from other machines: give a token (--token T, "
                     "clients send 'Authorization: Bearer T') or choose --no-auth")


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; port 0 takes a free one. A clear error when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class Server:
    """The service listening on `host:port` (bound at once, so `port` is known)."""

    def __init__(self, service: Service, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                 token: str | None = None, no_auth: bool = False,
                 max_body: int = MAX_BODY) -> None:
        import uvicorn

        check_host(host, token, no_auth)
        self.service, self.host, self.token = service, host, token
        self._socket = bind(host, port)
        self.port = int(self._socket.getsockname()[1])
        config = uvicorn.Config(create_app(service, token, max_body), log_level="warning",
                                timeout_graceful_shutdown=5, limit_concurrency=256)
        self._uvicorn = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def run(self) -> None:
        """Serve in this thread until interrupted (Ctrl+C) or `stop`."""
        try:
            self._uvicorn.run(sockets=[self._socket])
        finally:
            self._close()

    def start(self, timeout: float = 30.0) -> None:
        """Serve in a background thread; returns once it accepts connections."""
        self._thread = threading.Thread(target=self.run, name="serve", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._uvicorn.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ServeError(f"the server did not start on {self.url}")
            time.sleep(0.02)

    def stop(self, timeout: float = 10.0) -> None:
        self._uvicorn.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _close(self) -> None:
        self._socket.close()
        self.service.close()

    def curl_example(self) -> str:
        auth = f" -H 'Authorization: Bearer {self.token}'" if self.token else ""
        return f"curl{auth} -F image=@photo.jpg {self.url}/predict"

    def stats(self) -> dict[str, Any]:
        return self.service.stats.snapshot()
