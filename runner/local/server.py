"""The local backend on a real socket: uvicorn in the foreground (`serve`) or a thread.

Both bind the socket themselves before uvicorn starts, so port 0 (any free port) works and the
backend knows its own URL (for output file URLs) before the first job runs.
"""

from __future__ import annotations

import gc
import importlib
import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType

import uvicorn

from runner.errors import BackendError, ConfigError
from runner.local.app import create_app
from runner.local.backend import MAX_REQUEST_BYTES, LocalBackend
from runner.local.registry import DefaultsEncoding


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0 picks a free one); ConfigError if taken."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
    except (OSError, IndexError) as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc}") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit this. Without it uvicorn's separate header and body
        # writes meet the client's delayed ACK and every keep-alive request costs 40 ms.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
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


def _server(backend: LocalBackend, log_level: str, close_backend: bool) -> uvicorn.Server:
    # The app's lifespan closes the backend: after a SIGTERM uvicorn re-raises the signal
    # as soon as it has shut down, so code after `Server.run()` may never run.
    app = create_app(backend, close_backend=close_backend)
    config = uvicorn.Config(app, log_level=log_level, lifespan="on", timeout_graceful_shutdown=5)
    return uvicorn.Server(config)


def serve(
    backend: LocalBackend,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "info",
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve `backend` until interrupted (Ctrl-C / SIGTERM); it is closed at shutdown.

    `on_ready(url)` is called with the base URL (no `/v2`) once the socket is bound. Listening
    beyond loopback without an API key is refused (ConfigError): anyone who could reach the
    port could run every local function.
    """
    if not is_loopback(host) and backend.api_key is None:
        raise ConfigError(
            f"refusing to listen on {host} without an API key: anyone who can reach it could "
            "run local functions; pass --api-key (or set SIEVE_API_KEY), or listen on 127.0.0.1"
        )
    sock = bind(host, port)
    url = socket_url(sock)
    backend.serve_at(url)
    try:
        # Started here rather than by the lifespan so that a failure (a database in use) is
        # a clear error, not a uvicorn start-up traceback.
        backend.start()
    except BaseException:
        sock.close()
        raise
    if on_ready is not None:
        on_ready(url)
    server = _server(backend, log_level, close_backend=True)
    # What is loaded by now lives as long as the server: a full garbage collection then need
    # not scan it again (each paused the event loop 15-20 ms while serving 100 chains of jobs).
    gc.freeze()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        backend.close()  # in case uvicorn failed before its lifespan shutdown


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
        self._server = _server(backend, log_level, close_backend)
        self._close_backend = close_backend
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def start(self, timeout: float = 10.0) -> ServerThread:
        try:
            self.backend.start()
        except BaseException:
            self._sock.close()
            raise
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise BackendError(f"the local server on {self.url} did not start")
            time.sleep(0.01)
        return self

    def stop(self, wait: bool = True) -> None:
        """Stop serving (and close the backend if it is ours).

        With `wait=False` the backend is closed at once and uvicorn winds down in its thread
        (it polls every 0.1 s), which saves a test suite ~0.2 s per server.
        """
        self._server.should_exit = True
        if not self._thread.is_alive():
            self._sock.close()  # uvicorn closes it itself when it ran
        elif wait:
            self._thread.join(10)
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


def is_loopback(host: str) -> bool:
    """Whether `host` names only this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def backend_for_serve(
    *,
    db: str,
    files_dir: str | None,
    api_key: str | None,
    workers: int,
    public_url: str | None,
    plugins: Iterable[str] = (),
    defaults: DefaultsEncoding = "pickle",
    input_roots: Sequence[str] | None = None,
    max_request_bytes: int | None = None,
) -> LocalBackend:
    """The backend `sievefile serve` runs: the installed plugins plus `plugins` (module paths).

    Output files go to `files_dir`, by default a `files` folder beside a file `db`.
    `defaults` chooses how function metadata carries input defaults (see `LocalBackend`).
    `input_roots` are the folders `path` and `file://` inputs may come from (None or empty:
    the working directory); `max_request_bytes` caps request bodies (None: the default).
    """
    from runner.backend import check_http_url
    from runner.plugins import build_plugin_manager

    if public_url is not None:
        check_http_url(public_url, "--public-url")
    manager = build_plugin_manager()
    for module_name in plugins:
        try:
            module = importlib.import_module(module_name)
        except (ImportError, ValueError) as exc:  # ValueError: an empty or relative name
            raise ConfigError(f"--plugin {module_name}: cannot import it: {exc}") from exc
        if manager.get_plugin(module_name) is None:
            manager.register(module, name=module_name)
    in_memory = db == ":memory:"
    if files_dir is None and not in_memory:
        files_dir = str(Path(db).parent / "files")
    return LocalBackend(
        plugin_manager=manager,
        db=None if in_memory else db,
        files_dir=files_dir,
        public_url=public_url,
        api_key=api_key,
        workers=workers,
        defaults=defaults,
        input_roots=list(input_roots) if input_roots else None,
        max_request_bytes=max_request_bytes or MAX_REQUEST_BYTES,
    )
