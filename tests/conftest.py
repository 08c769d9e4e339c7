"""Fixtures shared by every test area.

- `local_server` / `start_local_server(**options)`: the local backend served by uvicorn on
  127.0.0.1 on a free port (in a thread, or in a subprocess that a test may kill).
- `webhook_receiver` / `start_webhook_receiver()`: a real HTTP server on 127.0.0.1 that records
  the POSTs it gets and can fail the first N of them.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from runner.local.backend import LocalBackend
from runner.local.server import ServerThread
from runner.plugins import DEFAULT_PLUGINS, build_plugin_manager
from tests.support.waiting import wait_for_end

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class LocalServer:
    """A running local server. `url` is the base URL without `/v2`.

    `backend` is the in-process LocalBackend (None for a subprocess server: read its counters
    with `GET /v2/_stats` instead); `process` is the subprocess (None for a thread server).
    """

    url: str
    api_key: str | None
    backend: LocalBackend | None = None
    process: subprocess.Popen[str] | None = None
    _thread: ServerThread | None = field(default=None, repr=False)
    _stdout_reader: threading.Thread | None = field(default=None, repr=False)

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.api_key} if self.api_key else {}

    def client(self, **options: Any) -> httpx.Client:
        """A sync httpx client for `<url>/v2` that sends the API key."""
        return httpx.Client(base_url=f"{self.url}/v2", headers=self.headers, **options)

    def wait_for_job(self, job_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """Poll `GET /jobs/{id}` until the job has ended; its JSON."""
        with self.client() as client:
            return wait_for_end(client, job_id, timeout=timeout, interval=0.02)

    def kill(self) -> None:
        """SIGKILL the subprocess server (a crash: nothing gets to clean up)."""
        assert self.process is not None, "kill() needs in_subprocess=True"
        self.process.kill()
        self.process.wait(10)
        self._close_stdout()

    def _close_stdout(self) -> None:
        if self._stdout_reader is not None:
            self._stdout_reader.join(10)  # it closes the pipe at EOF

    def stop(self, wait: bool = True) -> None:
        """Stop the server; with `wait` (the default) its port refuses connections after.

        The fixture's teardown passes wait=False: uvicorn then winds down in the background,
        which saves ~0.2 s per test.
        """
        if self._thread is not None:
            self._thread.stop(wait=wait)
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process is not None:
            self._close_stdout()


StartLocalServer = Callable[..., LocalServer]


@pytest.fixture
def start_local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartLocalServer]:
    """A factory: `start_local_server(**options)` starts a server, stopped after the test.

    Options: `db` (SQLite file; default in memory), `files_dir`, `api_key` (default a random
    key; None for none), `workers` (default 2), `plugins` (extra plugin objects, or module
    names for a subprocess), `builtins` (built-in plugin modules, default DEFAULT_PLUGINS),
    `webhook_backoff` (default 0.05 s), `defaults` ("pickle", as the live service, or
    "json": how function metadata carries input defaults), `in_subprocess` (run
    `sievefile serve` in a child process that `kill()` can crash; then only module-name
    plugins work, and the database defaults to a file).
    """
    servers: list[LocalServer] = []

    def start(
        *,
        db: str | Path | None = None,
        files_dir: str | Path | None = None,
        api_key: str | object | None = ...,
        workers: int = 2,
        plugins: Iterable[Any] = (),
        builtins: Iterable[str] = DEFAULT_PLUGINS,
        webhook_backoff: float = 0.05,
        defaults: str = "pickle",
        in_subprocess: bool = False,
        port: int = 0,
    ) -> LocalServer:
        key = f"sk-test-{uuid.uuid4().hex}" if api_key is ... else api_key
        assert key is None or isinstance(key, str)
        if in_subprocess:
            folder = tmp_path_factory.mktemp("serve")
            server = _start_subprocess(
                db=str(db or folder / "jobs.db"),
                files_dir=str(files_dir or folder / "files"),
                api_key=key,
                workers=workers,
                plugins=[str(p) for p in plugins],
                defaults=defaults,
                log=folder / "server.log",
                port=port,
            )
        else:
            manager = build_plugin_manager(builtins, load_entry_points=False)
            for plugin in plugins:
                if isinstance(plugin, str):
                    plugin = importlib.import_module(plugin)
                manager.register(plugin)
            backend = LocalBackend(
                # the tests' own files: every temporary folder and the repository's fixtures
                input_roots=[tmp_path_factory.getbasetemp(), REPO_ROOT],
                plugin_manager=manager,
                db=db,
                files_dir=files_dir,
                api_key=key,
                workers=workers,
                webhook_backoff=webhook_backoff,
                shutdown_grace=0.5,
                defaults=defaults,  # type: ignore[arg-type]
            )
            thread = ServerThread(backend, port=port).start()
            server = LocalServer(url=thread.url, api_key=key, backend=backend, _thread=thread)
        servers.append(server)
        return server

    yield start
    for server in reversed(servers):
        server.stop(wait=False)


@pytest.fixture
def local_server(start_local_server: StartLocalServer) -> LocalServer:
    """A local server with the built-in plugins, an in-memory database and an API key."""
    return start_local_server()


def _start_subprocess(
    *,
    db: str,
    files_dir: str,
    api_key: str | None,
    workers: int,
    plugins: list[str],
    defaults: str,
    log: Path,
    port: int = 0,
) -> LocalServer:
    command = [sys.executable, "-m", "runner", "serve", "--port", str(port), "--db", db]
    if defaults != "pickle":  # otherwise serve's own default, the live service's encoding
        command += ["--defaults", defaults]
    command += ["--files", files_dir, "--workers", str(workers), "--log-level", "warning"]
    command += ["--input-root", str(log.parent.parent), "--input-root", str(REPO_ROOT)]
    for plugin in plugins:
        command += ["--plugin", plugin]
    env = {key: value for key, value in os.environ.items() if key != "SIEVE_API_KEY"}
    if api_key:
        env["SIEVE_API_KEY"] = api_key  # the environment, not argv: `ps` shows argv
    # Whatever this test process can import (plugin modules of any test folder), the child
    # can too.
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *(p for p in sys.path if p)])
    log_file = log.open("w")
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=log_file, text=True, env=env, cwd=log.parent
    )
    log_file.close()
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("Serving the Sieve API on "):
            url = line.split()[5].removesuffix("/v2")
            # Keep draining stdout so the child never blocks on a full pipe.
            reader = threading.Thread(target=_drain, args=(process.stdout,), daemon=True)
            reader.start()
            return LocalServer(url=url, api_key=api_key, process=process, _stdout_reader=reader)
    process.wait(10)
    raise RuntimeError(f"sievefile serve did not start:\n{log.read_text()}")


def _drain(stream: IO[str]) -> None:
    with stream:
        stream.read()


@dataclass
class ReceivedWebhook:
    """One recorded POST: its path, JSON body, headers, and the body's exact bytes (`raw`, what
    a signature is computed over)."""

    path: str
    body: Any
    headers: dict[str, str]
    raw: bytes = b""


class WebhookReceiver:
    """A real HTTP server on 127.0.0.1 recording every POST (after the failures it was told).

    `fail_first(n)` answers the next n POSTs with 500 (they are counted in `attempts` but not
    recorded in `received`).
    """

    def __init__(self) -> None:
        self.received: list[ReceivedWebhook] = []
        self.attempts = 0
        self._failures_left = 0
        self._condition = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                with receiver._condition:
                    receiver.attempts += 1
                    failing = receiver._failures_left > 0
                    if failing:
                        receiver._failures_left -= 1
                    else:
                        receiver.received.append(
                            ReceivedWebhook(self.path, json.loads(raw), dict(self.headers), raw)
                        )
                    receiver._condition.notify_all()
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        host, port = self._server.server_address[:2]
        self.url = f"http://{host!s}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def fail_first(self, count: int) -> None:
        with self._condition:
            self._failures_left = count

    def wait_for(
        self, predicate: Callable[[list[ReceivedWebhook]], bool], timeout: float = 10.0
    ) -> list[ReceivedWebhook]:
        """Wait until `predicate(received)` holds; the deliveries so far."""
        with self._condition:
            if not self._condition.wait_for(lambda: predicate(self.received), timeout):
                raise AssertionError(f"webhooks never matched; got {self.received!r}")
            return list(self.received)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()
