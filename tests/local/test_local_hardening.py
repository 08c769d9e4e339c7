"""The local backend's defences: no key-less listening beyond loopback, a request size limit,
input files only from configured folders, the key compared in constant time."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sample_functions
from click.testing import CliRunner

from runner.cli import cli
from runner.errors import ConfigError
from runner.local.backend import LocalBackend
from runner.local.server import ServerThread, serve
from runner.plugins import build_plugin_manager
from tests.support.waiting import wait_for_end


def _backend(**options: Any) -> LocalBackend:
    manager = build_plugin_manager((), load_entry_points=False)
    manager.register(sample_functions)
    return LocalBackend(plugin_manager=manager, shutdown_grace=0.5, **options)


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_serve_refuses_to_listen_beyond_loopback_without_a_key(host: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SIEVE_API_KEY"}
    result = CliRunner(env=env).invoke(cli, ["serve", "--db", ":memory:", "--host", host])
    assert result.exit_code == 2, result.output
    assert f"refusing to listen on {host} without an API key" in result.output
    assert "--api-key" in result.output
    assert "Serving" not in result.output  # it never bound the address
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_the_library_refuses_too(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="without an API key"):
        serve(_backend(), host="0.0.0.0", port=0)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[ServerThread, Path]]:
    """A server whose only input root is `tmp_path / "inputs"`, with a small body limit."""
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    backend = _backend(api_key="sk-hard", input_roots=[inputs], max_request_bytes=4096)
    with ServerThread(backend) as server:
        yield server, inputs


def _api(server: ServerThread) -> httpx.Client:
    return httpx.Client(base_url=f"{server.url}/v2", headers={"X-API-Key": "sk-hard"}, timeout=10)


def _run(api: httpx.Client, server: ServerThread, inputs: dict[str, Any]) -> dict[str, Any]:
    response = api.post("/push", json={"function": "test/read-text", "inputs": inputs})
    assert response.status_code == 200, response.text
    return wait_for_end(api, response.json()["id"])


def test_a_request_body_over_the_limit_is_a_413_read_no_further(
    served: tuple[ServerThread, Path],
) -> None:
    server, _ = served
    big = {"function": "test/kinds", "inputs": {"text": "x" * 10_000}}
    with _api(server) as api:
        response = api.post("/push", json=big)
        assert response.status_code == 413
        assert response.json() == {"detail": "Request body too large: the limit is 4096 bytes."}

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted while reading
            yield b'{"function": "test/kinds", "inputs": {"text": "'
            for _ in range(100):
                yield b"y" * 100
            yield b'"}}'

        chunked = api.post("/push", content=chunks(), headers={"Content-Type": "application/json"})
        assert chunked.status_code == 413
        small = api.post("/push", json={"function": "test/kinds", "inputs": {"text": "ok"}})
        assert small.status_code == 200
    assert server.backend.stats.pushes == 1


def test_input_files_come_only_from_the_input_roots(
    served: tuple[ServerThread, Path], tmp_path: Path
) -> None:
    server, inputs = served
    (inputs / "inside.txt").write_text("allowed")
    outside = tmp_path / "secret.txt"
    outside.write_text("host file")
    (inputs / "link.txt").symlink_to(outside)  # a symlink out of the root is outside too
    with _api(server) as api:
        ok = _run(api, server, {"file": {"path": str(inputs / "inside.txt")}})
        assert ok["status"] == "finished", ok["error"]
        refused = [
            {"path": "/etc/passwd"},
            {"url": "file:///etc/passwd"},
            {"url": "/etc/passwd"},
            {"path": str(outside)},
            {"path": str(inputs / ".." / "secret.txt")},
            {"path": str(inputs / "link.txt")},
            {"path": str(tmp_path / "no-such-file")},  # no existence oracle outside the roots
        ]
        for value in refused:
            job = _run(api, server, {"file": value})
            assert job["status"] == "error", value
            assert "outside the folders this local backend reads input files from" in job["error"]
            assert job["outputs"] == []


@pytest.mark.parametrize("key", ["sk-hare", "sk-har", "sk-hard-and-more", "", "ключ"])
def test_any_other_key_is_refused(served: tuple[ServerThread, Path], key: str) -> None:
    server, _ = served
    with httpx.Client(base_url=f"{server.url}/v2", timeout=10) as api:
        response = api.get("/jobs", headers={"X-API-Key": key.encode()})  # bytes: any octets
    assert response.status_code == 401
    assert response.json() == {"detail": "Unauthorized - valid API Key required."}
