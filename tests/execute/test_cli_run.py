"""`sievefile run` as a user runs it: output, exit codes, Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
from click.testing import CliRunner

from runner.cli import cli
from tests.support.runs import interrupt_after_pushes
from tests.support.waiting import wait_for_status

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "manifests" / "quickstart.toml"


def _environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIEVE_")}
    env["HOME"] = extra.pop("HOME", env.get("HOME", ""))
    env.update(extra)
    return env


def test_quickstart_runs_on_the_embedded_backend(tmp_path: Path) -> None:
    manifest = tmp_path / "quickstart.toml"
    manifest.write_text(QUICKSTART.read_text())
    result = CliRunner().invoke(
        cli, ["run", str(manifest), "--local"], env={"SIEVE_API_KEY": "", "SIEVE_API_URL": ""}
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "backend: embedded local backend (in-process)"
    assert lines[-1].startswith("run ok: 6 finished")
    files = sorted(p.name for p in (tmp_path / ".sievefile" / "files").rglob("*.*"))
    assert files == [
        "test-pattern-audio.mp3",
        "test-pattern-audio.wav",
        "test-pattern-thumbnail.png",
        "test-pattern-trimmed.mp4",
        "test-pattern.mp4",
    ]
    for name in files:
        assert name in result.output  # the summary says where each result is


def test_json_summary_and_exit_code_1_on_failure(tmp_path: Path, exec_server) -> None:
    manifest = tmp_path / "m.toml"
    manifest.write_text(
        'version = 1\n[jobs.bad]\nfunction = "exec/fail"\ninputs = { message = "nope" }\n'
    )
    result = CliRunner().invoke(
        cli,
        ["run", str(manifest), "--json", "--progress", "none", "--api-url", exec_server.url],
        env={"SIEVE_API_KEY": exec_server.api_key},
    )
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["ok"] is False
    assert payload["jobs"][0]["status"] == "failed"
    assert "nope" in payload["jobs"][0]["error"]
    assert exec_server.api_key not in result.output


def test_invalid_manifest_is_a_located_error_and_pushes_nothing(tmp_path: Path, exec_server):
    manifest = tmp_path / "m.toml"
    manifest.write_text('version = 1\n[jobs.a]\nfunction = "local/echo"\nneeds = ["b"]\n')
    result = CliRunner().invoke(
        cli, ["run", str(manifest), "--api-url", exec_server.url],
        env={"SIEVE_API_KEY": exec_server.api_key},
    )  # fmt: skip
    assert result.exit_code == 1
    assert f"{manifest}:4:" in result.output
    assert "Traceback" not in result.output
    assert exec_server.backend.stats.pushes == 0


def test_ctrl_c_cancels_jobs_in_flight_and_exits_130(tmp_path: Path, exec_server) -> None:
    manifest = tmp_path / "m.toml"
    manifest.write_text(
        "version = 1\n"
        "[jobs.nap]\n"
        'function = "exec/nap"\n'
        "matrix = { i = [1, 2, 3] }\n"
        'inputs = { seconds = 60, value = "${{ matrix.i }}" }\n'
        "[jobs.after]\n"
        'function = "local/echo"\n'
        'inputs.value = "${{ jobs.nap.outputs[0] }}"\n'
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "runner", "run", str(manifest), "--api-url", exec_server.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_environment(SIEVE_API_KEY=exec_server.api_key),
    )
    pushed, rest = interrupt_after_pushes(process, 3)
    assert process.wait(30) == 130
    assert "interrupted" in rest
    with httpx.Client(base_url=f"{exec_server.url}/v2", headers=exec_server.headers) as client:
        for job_id in pushed:
            wait_for_status(client, job_id, "cancelled")
    assert exec_server.backend.stats.pushes == 3  # `after` never started


def test_two_machine_formats_on_stdout_are_a_usage_error(tmp_path: Path) -> None:
    manifest = tmp_path / "m.toml"
    manifest.write_text('version = 1\n[jobs.a]\nfunction = "local/echo"\ninputs = { value = 1 }\n')
    result = CliRunner().invoke(
        cli, ["run", str(manifest), "--local", "--json", "--progress", "json"]
    )
    assert result.exit_code == 2
    assert "--json and --progress json both write to stdout" in result.output


def test_resume_followed_by_the_manifest_resumes_that_manifest(tmp_path: Path) -> None:
    # --resume takes an optional RUN, so click hands it the manifest's path
    manifest = tmp_path / "m.toml"
    manifest.write_text('version = 1\n[jobs.a]\nfunction = "local/echo"\ninputs = { value = 1 }\n')
    resumed = CliRunner().invoke(cli, ["run", "--resume", str(manifest), "--local"])
    assert resumed.exit_code == 2, resumed.output
    assert "m.toml: no interrupted run to resume" in resumed.output
    missing = CliRunner().invoke(cli, ["run", "--resume", str(tmp_path / "gone.toml")])
    assert missing.exit_code == 2
    assert "Missing argument 'MANIFEST'" in missing.output
    assert "Missing argument 'MANIFEST'" in CliRunner().invoke(cli, ["run"]).output


DELIVER = REPO / "manifests" / "deliver.toml"


def test_the_deliver_example_copies_its_outputs_to_a_folder(tmp_path: Path) -> None:
    manifest = tmp_path / "deliver.toml"
    manifest.write_text(DELIVER.read_text())
    result = CliRunner().invoke(
        cli, ["run", str(manifest), "--local"], env={"SIEVE_API_KEY": "", "SIEVE_API_URL": ""}
    )
    assert result.exit_code == 0, result.output
    (run_id,) = [path.name for path in (tmp_path / "out").iterdir()]
    delivered = sorted(
        str(path.relative_to(tmp_path / "out" / run_id))
        for path in (tmp_path / "out" / run_id).rglob("*")
        if path.is_file()
    )
    assert delivered == [
        "audio/format=mp3/output_0.mp3",
        "audio/format=wav/output_0.wav",
        "probe/output_0.json",
        "thumbnail/output_0.png",
    ]
    png = (tmp_path / "out" / run_id / "thumbnail" / "output_0.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    assert f"outputs -> local: {tmp_path / 'out' / run_id}/" in result.output
    assert "4 outputs delivered" in result.output


def test_outputs_that_cannot_be_delivered_exit_3_and_resume_delivers_them(
    tmp_path: Path, exec_server
) -> None:
    blocker = tmp_path / "out"
    blocker.write_text("a file where the sink wants a folder")
    manifest = tmp_path / "m.toml"
    manifest.write_text(
        'version = 1\n[jobs.hello]\nfunction = "local/echo"\ninputs = { value = "hi" }\n'
        '[[sinks]]\nuse = "local"\npath = "out/{job}"\n'
    )
    command = [sys.executable, "-m", "runner", "run", str(manifest), "--api-url", exec_server.url]
    env = _environment(SIEVE_API_KEY=exec_server.api_key)
    failed = subprocess.run(
        [*command, "--progress", "plain"], capture_output=True, text=True, env=env, timeout=120
    )
    assert failed.returncode == 3, failed.stdout + failed.stderr
    assert "run finished, delivered with errors: 1 finished" in failed.stdout
    assert "not delivered" in failed.stdout
    assert "cannot write" in failed.stdout
    assert f"next: `sievefile run {manifest} --resume " in failed.stdout
    assert "delivers what is missing (no job is pushed again)" in failed.stdout
    blocker.unlink()
    resumed = subprocess.run(
        [*command, "--resume", "--progress", "plain"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert json.loads((tmp_path / "out" / "hello" / "output_0.json").read_text())["value"] == "hi"
    assert exec_server.backend.stats.pushes == 1


def test_damaged_run_state_is_an_error_that_says_where_not_a_traceback(tmp_path: Path) -> None:
    # Each of these ended in a Python traceback (sqlite3.DatabaseError, FileExistsError,
    # TOMLDecodeError, TypeError).
    manifest = tmp_path / "m.toml"
    manifest.write_text('version = 1\n[jobs.a]\nfunction = "local/echo"\ninputs.value = 1\n')
    state = tmp_path / ".sievefile"

    def sievefile(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, list(args), env={"SIEVE_API_KEY": "", "SIEVE_API_URL": ""})
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        return result.exit_code, result.output

    state.write_text("a file where the folder goes")
    code, output = sievefile("run", str(manifest), "--local")
    assert (code, "cannot use the run state at" in output) == (1, True)
    state.unlink()

    state.mkdir()
    (state / "state.db").write_text("not SQLite")
    code, output = sievefile("run", str(manifest), "--local")
    assert (code, "file is not a database" in output) == (1, True)
    (state / "state.db").unlink()
    (state / "state.db").mkdir()  # sqlite3.connect fails before any statement
    code, output = sievefile("run", str(manifest), "--local")
    assert (code, "unable to open database file" in output) == (1, True)
    (state / "state.db").rmdir()

    code, output = sievefile("run", str(manifest), "--local")
    assert code == 0, output
    (record,) = (state / "runs").glob("*.toml")
    for damage in ("x = [", "status = []"):
        record.write_text(re.sub(r"(?m)^status = .*$", damage, record.read_text(), count=1))
        code, output = sievefile("status", record.stem, "--dir", str(tmp_path))
        assert (code, str(record.name) in output) == (1, True), output
