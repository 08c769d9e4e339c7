"""Deliveries for sink tests: records built by hand, file bytes from disk or a real HTTP server.

- `make_delivery(output, job=..., instance=...)`: a Delivery of one output of one job.
- `file_output(index, url, opener)` / `json_output(index, data)`: the two kinds of output.
- `disk_opener(path)`: opens a file's bytes (what the embedded backend's `file://` outputs do).
- `serve_http(handler)`: a `http.server` on 127.0.0.1 with `handler`; yields its URL.
- `serve_directory(folder)`: the same, serving the files of `folder`.
- `http_opener(url)`: streams a URL's bytes (no proxy: only loopback is ever fetched).
- `s3_server()`: moto's S3 server on 127.0.0.1 (a free port); yields its URL.
- `HOSTILE_NAMES`: placeholder values and URL paths a hostile server might send;
  `hostile_delivery(output, value)` puts one in every placeholder.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

from runner import Delivery, JobRecord, JobStatus, OutputRecord, RunInfo
from runner.hooktypes import Opener

HOSTILE_NAMES: tuple[str, ...] = (
    "../../x",
    "/etc/x",
    "C:\\x",
    "..\\..\\x",
    "a\x00b",
    "..",
    ".",
    "",
    "~",
    "CON",
    "nul.txt",
    " ../ ",
    "x" * 10_000,
    "é" * 300,
    "\ud800",
)


def make_delivery(
    output: OutputRecord,
    *,
    run_id: str | None = "20261202-140000-abcd",
    name: str = "podcast",
    job: str = "transcribe",
    instance: str = "",
    key: str | None = None,
    function: str = "me/transcribe",
) -> Delivery:
    run = RunInfo(
        run_id=run_id, manifest=Path("sievefile.toml"), name=name, backend="embedded", started_at=0
    )
    record = JobRecord(
        key=key if key is not None else (f"{job}[{instance}]" if instance else job),
        job=job,
        instance=instance,
        function=function,
        status=JobStatus.FINISHED,
        outputs=(output,),
    )
    return Delivery(run=run, job=record, output=output)


def hostile_delivery(output: OutputRecord, value: str) -> Delivery:
    """A Delivery whose every placeholder (run, name, job, instance, key, function) is `value`."""
    return make_delivery(
        output, run_id=value, name=value, job=value, instance=value, key=value, function=value
    )


def file_output(index: int, url: str, opener: Opener) -> OutputRecord:
    return OutputRecord(index=index, data={"url": url}, url=url, opener=opener)


def json_output(index: int, data: Any) -> OutputRecord:
    return OutputRecord(index=index, data=data)


def disk_opener(path: Path) -> Opener:
    def opener() -> contextlib.AbstractContextManager[IO[bytes]]:
        return path.open("rb")

    return opener


def http_opener(url: str) -> Opener:
    fetcher = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def opener() -> contextlib.AbstractContextManager[IO[bytes]]:
        return fetcher.open(url)  # type: ignore[no-any-return]

    return opener


@contextlib.contextmanager
def serve_http(handler: Callable[..., BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` over HTTP on 127.0.0.1 (a free port) for the `with` block; its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextlib.contextmanager
def serve_directory(folder: Path) -> Iterator[str]:
    """Serve the files of `folder` (`serve_http`); its base URL."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serve_http(functools.partial(Quiet, directory=str(folder))) as url:
        yield url


@contextlib.contextmanager
def s3_server() -> Iterator[str]:
    """moto's S3 server (a real HTTP server, its state in this process) for the `with` block."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def files_under(folder: Path) -> list[Path]:
    """Every file and symbolic link below `folder`, at any depth."""
    return [path for path in folder.rglob("*") if path.is_file() or path.is_symlink()]
