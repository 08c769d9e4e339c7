"""Outputs a hostile (or broken) server sends, delivered to the `local` sink in a real run:
names and URLs that try to climb out of the sink's folder, absolute and Windows paths, very
long names, and a `file://` URL pointing at the host's files. Nothing is written outside the
sink's folder and no host file is copied."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from runner.execute.delivery import DeliveryPolicy
from runner.plugins import build_plugin_manager
from tests.support.outputs import files_under, serve_http

SECRET_FILE_TEXT = "root:x:0:0:this must never be copied"


class _AnyPath(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"served {len(self.path)} chars".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def any_path_server() -> Iterator[str]:
    with serve_http(_AnyPath) as url:
        yield url


def test_hostile_output_urls_and_names_stay_inside_the_sink_folder(
    run_text: Any, any_path_server: str, tmp_path: Path
) -> None:
    host_file = tmp_path / "host" / "passwd"
    host_file.parent.mkdir()
    host_file.write_text(SECRET_FILE_TEXT)
    base = any_path_server
    urls = [
        f"{base}/../../x.sh",
        f"{base}/%2e%2e/%2e%2e/escape.sh",
        f"{base}/etc/x",
        f"{base}/C:%5Cwindows%5Cx.dll",
        f"{base}/{'n' * 5000}.bin",
        f"{base}/nul%00byte.txt",
        host_file.as_uri(),
    ]
    matrix = ", ".join(f'"{url}"' for url in urls)
    text = f"""
    version = 1
    [jobs.link]
    function = "exec/link"
    matrix = {{ url = [{matrix}] }}
    inputs.url = "${{{{ matrix.url }}}}"

    [[sinks]]
    use = "local"
    path = "out/{{run}}/{{key}}/{{instance}}/{{output}}"
    """
    run = run_text(
        text,
        plugins=build_plugin_manager(("plugins.local_sink",), load_entry_points=False),
        delivery=DeliveryPolicy(attempts=1),
    )
    assert run.summary.ok  # the jobs finished; one output could not be delivered
    assert run.summary.deliveries.delivered == len(urls) - 1
    assert run.summary.deliveries.failed == 1
    assert "outside the embedded backend's files folder" in run.summary.deliveries.errors[0]

    out = (tmp_path / "out").resolve()
    written = files_under(tmp_path / "out")
    assert len(written) == len(urls) - 1
    for path in written:
        assert path.resolve().is_relative_to(out)
        assert path.read_bytes().startswith(b"served ")
    everything = [p for p in files_under(tmp_path) if not p.is_relative_to(tmp_path / "host")]
    assert all(SECRET_FILE_TEXT.encode() not in path.read_bytes() for path in everything)
    outside = [
        path
        for path in files_under(tmp_path)
        if not path.is_relative_to(tmp_path / "out")
        and not path.is_relative_to(tmp_path / ".sievefile")
        and path not in (tmp_path / "manifest.toml", host_file)
    ]
    assert outside == []
