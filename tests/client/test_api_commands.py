"""`sievefile functions|jobs|push` against the local backend over a socket, and embedded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner, Result

from runner.cli import cli
from tests.support.waiting import wait_until

if TYPE_CHECKING:
    from tests.conftest import LocalServer


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No key or URL from the developer's machine, and a scratch working directory."""
    monkeypatch.delenv("SIEVE_API_URL", raising=False)
    monkeypatch.delenv("SIEVE_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)


def _remote(server: LocalServer) -> list[str]:
    """The flags that point a command at `server`."""
    assert server.api_key is not None
    return ["--api-url", server.url, "--api-key", server.api_key]


def sievefile(*args: str) -> Result:
    """Run the CLI; `output` has stdout and stderr, `stdout` and `stderr` each alone."""
    try:
        runner = CliRunner(mix_stderr=False)  # type: ignore[call-arg]  # click < 8.2
    except TypeError:
        runner = CliRunner()  # click >= 8.2 always keeps stderr apart as well
    return runner.invoke(cli, list(args))


def test_functions_get_shows_inputs_and_outputs(local_server: LocalServer) -> None:
    result = sievefile("functions", "get", "local/extract-audio", *_remote(local_server))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"backend: {local_server.url} (from --api-url; key from --api-key)"
    assert "local/extract-audio" in lines[1]
    assert "Literal['wav', 'mp3'," in result.output
    assert any(line.split()[:3] == ["file", "│", "sieve.File"] for line in lines)


def test_functions_get_json_is_the_raw_body(local_server: LocalServer) -> None:
    result = sievefile("functions", "get", "local/echo", *_remote(local_server), "--json")
    assert result.exit_code == 0
    body = json.loads(result.stdout)
    assert (body["owner_name"], body["name"]) == ("local", "echo")
    assert result.stderr.startswith("backend: ")


def test_an_unknown_function_is_a_clean_error(local_server: LocalServer) -> None:
    result = sievefile("functions", "get", "local/ecko", *_remote(local_server))
    assert result.exit_code == 1
    assert "returned 404: Function not found." in result.output
    assert "Traceback" not in result.output


def test_push_get_list_and_cancel(local_server: LocalServer) -> None:
    remote = _remote(local_server)
    pushed = sievefile(
        "push", "local/sleep", "-i", "seconds=60", "-i", "payload=[1, 2]", *remote, "--json"
    )
    assert pushed.exit_code == 0, pushed.output
    job_id = json.loads(pushed.stdout)["id"]

    shown = sievefile("jobs", "get", job_id, *_remote(local_server))
    assert shown.exit_code == 0
    assert job_id in shown.output
    assert "local/sleep" in shown.output
    assert "[1, 2]" in shown.output

    cancelled = sievefile("jobs", "cancel", job_id, *_remote(local_server))
    assert cancelled.exit_code == 0, cancelled.output

    listed = sievefile("jobs", "list", "--status", "cancelled", *_remote(local_server), "--json")
    assert [job["id"] for job in json.loads(listed.stdout)] == [job_id]
    table = sievefile("jobs", "list", *_remote(local_server))
    assert job_id in table.output
    assert "cancelled" in table.output


def test_push_wait_shows_the_outputs(local_server: LocalServer) -> None:
    result = sievefile(
        "push", "local/echo", "-i", 'value={"k": "v"}', "-i", "text=hello", "--wait",
        *_remote(local_server),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "finished" in result.output
    assert '"text": "hello"' in result.output


def test_push_wait_for_a_failing_job_exits_1_with_its_error(
    local_server: LocalServer, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video" * 10)
    result = sievefile(
        "push", "local/probe", "-i", f'file={{"url": "{bad}"}}', "--wait",
        *_remote(local_server),
    )  # fmt: skip
    assert result.exit_code == 1
    assert "ended error: " in result.output
    assert "bad.mp4 is not readable media" in result.output


def test_push_with_a_bad_input_is_a_located_422(local_server: LocalServer) -> None:
    result = sievefile("push", "local/echo", "-i", "vale=1", *_remote(local_server))
    assert result.exit_code == 1
    assert "body.inputs.vale: Unknown input 'vale'" in result.output
    assert "did you mean 'value'?" in result.output


def test_push_on_the_embedded_backend_waits_and_keeps_its_files(tmp_path: Path) -> None:
    result = sievefile("push", "local/test-pattern", "-i", "duration=0.5", "--local", "--json")
    assert result.exit_code == 0, result.output
    job = json.loads(result.stdout)
    assert job["status"] == "finished"
    url = job["outputs"][0]["data"]["url"]
    assert url.startswith("file://")
    stored = Path(url.removeprefix("file://"))
    assert stored.is_file()
    assert stored.is_relative_to(tmp_path / ".sievefile" / "files")


def test_nothing_configured_uses_the_embedded_backend() -> None:
    result = sievefile("jobs", "list")
    assert result.exit_code == 0
    assert result.output.splitlines()[0] == "backend: embedded local backend (in-process)"


def test_local_and_api_url_together_are_a_usage_error() -> None:
    result = sievefile("jobs", "list", "--local", "--api-url", "http://127.0.0.1:1")
    assert result.exit_code == 2
    assert "--local cannot be combined with --api-url" in result.output


def test_a_malformed_function_name_is_a_usage_error() -> None:
    result = sievefile("push", "echo", "--local")
    assert result.exit_code == 2
    assert "function 'echo' must look like owner/name[:version]" in result.output


def test_the_key_is_used_but_never_printed(local_server: LocalServer, tmp_path: Path) -> None:
    url, key = local_server.url, local_server.api_key
    assert key is not None
    ok = sievefile("jobs", "list", "--api-url", url, "--api-key", key)
    assert ok.exit_code == 0
    assert ok.output.splitlines()[0] == f"backend: {url} (from --api-url; key from --api-key)"

    wrong = "sk-wrong-key-do-not-print"
    refused = sievefile("functions", "get", "local/echo", "--api-url", url, "--api-key", wrong)
    assert refused.exit_code == 1
    assert "401" in refused.output
    assert "(the API key from --api-key was refused; check it)" in refused.output
    assert wrong not in refused.output
    keyless = sievefile("jobs", "list", "--api-url", url)
    assert keyless.exit_code == 1
    assert "(no API key was sent; pass --api-key or set SIEVE_API_KEY)" in keyless.output

    key_file = tmp_path / "home" / ".config" / ".sieve" / "config"
    key_file.parent.mkdir(parents=True)
    key_file.write_text(key + "\n")
    from_file = sievefile("jobs", "list", "--api-url", url)
    assert from_file.exit_code == 0, from_file.output
    assert "key from ~/.config/.sieve/config" in from_file.output
    for result in (ok, refused, from_file):
        assert key not in result.output


def test_ctrl_c_while_push_waits_names_the_job_that_runs_on(
    local_server: LocalServer, tmp_path: Path
) -> None:
    """Ctrl-C stops the waiting but not the remote job: the user is told its id and how to
    cancel it, and the exit code is 130."""
    import os
    import signal
    import subprocess
    import sys

    environment = {k: v for k, v in os.environ.items() if not k.startswith("SIEVE_")}
    environment["HOME"] = str(tmp_path / "home")
    command = [sys.executable, "-m", "runner", "push", "local/sleep", "-i", "seconds=60"]
    process = subprocess.Popen(
        [*command, "--wait", *_remote(local_server)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    try:
        with local_server.client() as client:
            jobs = wait_until(
                lambda: client.get("/jobs").raise_for_status().json()["data"],
                what="the push to arrive",
            )
        assert len(jobs) == 1
        job_id = jobs[0]["id"]
        # its first poll of the job proves the command has the push's answer (the job id)
        assert local_server.backend is not None
        stats = local_server.backend.stats
        wait_until(lambda: stats.requests("GET /jobs/{job_id}"), what="the first poll")
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert f"job {job_id} is still running; `sievefile jobs cancel {job_id}` cancels it" in stderr
    assert "Traceback" not in stderr
    with local_server.client() as client:
        assert client.get(f"/jobs/{job_id}").json()["status"] in ("queued", "processing")
        client.delete(f"/jobs/{job_id}")


def test_no_wait_on_the_embedded_backend_is_a_usage_error() -> None:
    result = sievefile("push", "local/echo", "-i", "value=1", "--local", "--no-wait")
    assert result.exit_code == 2
    assert "error: --no-wait does not work on the embedded backend" in result.output
    assert "pushed job" not in result.output
