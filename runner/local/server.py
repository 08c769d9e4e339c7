"""The local backend on a real socket: uvicorn in the foreground (`serve`) or a thread.

Both bind the socket themselves before uvicorn starts, so port 0 (any free port) works and the
backend knows its own URL (for output file URLs) before the first job runs.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType

import uvicorn

from runner.errors import BackendError, ConfigError
from runner.local.backend import LocalBackend


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0 picks a free one); ConfigError if taken."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
    except (OSError, IndexError) as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc}") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.set_inheritable(True)
    return sock


def socket_url(sock: socket.socket) -> str:
    """`http://host:port` for a bound socket (IPv6 hosts in brackets)."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _server(backend: LocalBackend, log_level: str) -> uvicorn.Server:
    config = uvicorn.Config(
        backend.app, log_level=log_level, lifespan="on", timeout_graceful_shutdown=5
    )
    return uvicorn.Server(config)


def serve(
    backend: LocalBackend,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "info",
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve `backend` until interrupted (Ctrl-C / SIGTERM), then close it.

    `on_ready(url)` is called with the base URL (no `/v2`) once the socket is bound.
    """
    sock = bind(host, port)
    url = socket_url(sock)
    backend.serve_at(url)
    if on_ready is not None:
        on_ready(url)
    try:
        _server(backend, log_level).run(sockets=[sock])
    finally:
        sock.close()
        backend.close()


class ServerThread:
    """uvicorn serving a backend on 127.0.0.1 (by default) from a background thread.

        with ServerThread(LocalBackend()) as server:
            httpx.get(f"{server.url}/v2/jobs")

    `stop()` stops uvicorn; the backend is closed too when `close_backend` is true.
    """

    def __init__(
        self,
        backend: LocalBackend,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
        close_backend: bool = True,
    ) -> None:
        self.backend = backend
        self._sock = bind(host, port)
        self.url = socket_url(self._sock)
        backend.serve_at(self.url)
        self._server = _server(backend, log_level)
        self._close_backend = close_backend
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def start(self, timeout: float = 10.0) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise BackendError(f"the local server on {self.url} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(10)
        self._sock.close()
        if self._close_backend:
            self.backend.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
