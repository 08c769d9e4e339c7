"""`sievefile serve`: flags, the API key, and errors a user can act on."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from runner.cli import cli
from runner.local.server import is_loopback

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_help_documents_every_flag() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0
    flags = ("--host", "--port", "--db", "--api-key", "--workers", "--plugin", "--defaults")
    for flag in (*flags, "SIEVE_API_KEY"):
        assert flag in result.output
    assert "127.0.0.1" in result.output


def test_the_key_from_the_environment_is_required_and_never_printed(tmp_path: Path) -> None:
    key = "sk-very-secret-7f3a"
    env = {**os.environ, "SIEVE_API_KEY": key, "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, "-m", "runner", "serve", "--port", "0", "--db", ":memory:"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path
    )
    assert process.stdout is not None
    try:
        first = process.stdout.readline()
        assert first.startswith("Serving the Sieve API on http://127.0.0.1:")
        assert "X-API-Key required" in first
        url = first.split()[5]
        assert httpx.get(f"{url}/jobs").status_code == 401
        assert httpx.get(f"{url}/jobs", headers={"X-API-Key": key}).status_code == 200
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=15)
    assert key not in first + stdout + stderr
    assert "Traceback" not in stderr


def test_a_plugin_that_cannot_be_imported_is_a_clear_error() -> None:
    result = CliRunner().invoke(cli, ["serve", "--db", ":memory:", "--plugin", "no_such_plugin"])
    assert result.exit_code == 2
    assert "--plugin no_such_plugin: cannot import it" in result.output
    assert "Traceback" not in result.output


def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["serve", "--db", ":memory:", "--port", str(port)])
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.output


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.0.1", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("192.168.1.2", False), ("example.com", False)],
)  # fmt: skip
def test_loopback_hosts_are_recognised(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_a_database_in_use_is_a_clear_error(tmp_path: Path) -> None:
    from runner.local.store import JobStore

    db = tmp_path / "jobs.db"
    holder = JobStore(db)
    try:
        result = CliRunner().invoke(cli, ["serve", "--db", str(db), "--port", "0"])
    finally:
        holder.close()
    assert result.exit_code == 1
    assert "is in use by another local server" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--db", "{tmp}/folder"], "cannot open the job database {tmp}/folder: "),
        (["--db", "{tmp}/notes.txt"], "cannot open the job database {tmp}/notes.txt: "),
        (
            ["--db", "{tmp}/jobs.db", "--files", "{tmp}/notes.txt"],
            "cannot use {tmp}/notes.txt as the output files folder: File exists",
        ),
    ],
)
def test_an_unusable_database_or_files_folder_is_a_clear_error(
    tmp_path: Path, flags: list[str], message: str
) -> None:
    (tmp_path / "folder").mkdir()
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes, not a database\n" * 40)
    arguments = [flag.format(tmp=tmp_path) for flag in flags]
    result = CliRunner().invoke(cli, ["serve", *arguments, "--port", "0"])
    assert result.exit_code == 1, result.output
    assert f"error: {message.format(tmp=tmp_path)}" in result.output
    assert "Traceback" not in result.output
    assert notes.read_text() == "my notes, not a database\n" * 40


@pytest.mark.parametrize("public_url", ["notaurl", "ftp://host/files", "http://"])
def test_a_public_url_that_is_not_http_is_a_usage_error(public_url: str) -> None:
    result = CliRunner().invoke(
        cli, ["serve", "--db", ":memory:", "--port", "0", "--public-url", public_url]
    )
    assert result.exit_code == 2, result.output
    assert "error: --public-url must be an http:// or https:// URL" in result.output
    assert repr(public_url) in result.output


@pytest.mark.parametrize("defaults", ["pickle", "json"])
def test_defaults_flag_chooses_how_metadata_carries_defaults(
    start_local_server: Any, defaults: str
) -> None:
    server = start_local_server(
        in_subprocess=True,
        api_key=None,
        plugins=["tests.support.public_functions"],
        defaults=defaults,
    )
    inputs = httpx.get(f"{server.url}/v2/functions/sieve/translate").json()["latest_version"]
    target = next(item for item in inputs["inputs"] if item["name"] == "target")
    if defaults == "pickle":  # the live service's encoding, by default
        assert target["data"] == "gAWVBgAAAAAAAACMAmVzlC4="
        assert "default" not in target
    else:
        assert (target["data"], target["default"]) == ("es", "es")


def test_a_bad_defaults_value_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["serve", "--defaults", "yaml"])
    assert result.exit_code == 2
    assert "'yaml' is not one of 'pickle', 'json'" in result.output
