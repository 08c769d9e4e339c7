"""The runner SIGKILLed at exact points of a run, then resumed: nothing lost, nothing doubled.

`SIEVEFILE_TEST_CRASH_AT=<point>:<n>` makes the runner subprocess kill itself at the n-th
ledger checkpoint `point`: `before-push` (intent written, nothing sent), `after-push` (the
service created the job, its id not yet in the ledger), `waiting` (job id written, job
running), `fetched` (the job ended and its outputs arrived, not yet in the ledger). The server
(a thread of this process) survives and counts the pushes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runner.execute.ledger import Ledger
from tests.support.runs import interrupt_after_pushes, run_cli

MANIFEST = """\
version = 1
[jobs.fan]
function = "exec/nap"
matrix = { i = [1, 2, 3] }
inputs = { seconds = 0.3, value = "${{ matrix.i }}" }
[jobs.join]
function = "local/echo"
inputs.value = "${{ jobs.fan.outputs }}"
"""
JOBS = 4


def _run(manifest: Path, server: Any, *args: str, crash: str | None = None) -> Any:
    return run_cli(manifest, server, *args, crash=crash, timeout=60)


def _outputs(process: Any) -> dict[str, Any]:
    assert process.returncode == 0, process.stderr + process.stdout
    return {job["key"]: job["outputs"] for job in json.loads(process.stdout)["jobs"]}


def _write(folder: Path) -> Path:
    folder.mkdir()
    manifest = folder / "manifest.toml"
    manifest.write_text(MANIFEST)
    return manifest


@pytest.mark.slow
@pytest.mark.parametrize(
    "crashes",
    [
        ["before-push:1"],
        ["before-push:4"],  # the join job, after the fan finished
        ["after-push:1"],
        ["after-push:3"],
        ["waiting:2"],
        ["waiting:4"],
        ["fetched:1"],
        ["fetched:4"],
        ["after-push:2", "fetched:1", "waiting:1"],  # killed again while resuming
    ],
)
def test_a_killed_run_resumes_with_one_push_per_job(
    crashes: list[str], exec_server, tmp_path: Path
) -> None:
    manifest = _write(tmp_path / "crashed")
    killed = _run(manifest, exec_server, crash=crashes[0])
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    for crash in crashes[1:]:
        again = _run(manifest, exec_server, "--resume", crash=crash)
        assert again.returncode == -signal.SIGKILL, again.stderr
    resumed = _run(manifest, exec_server, "--resume")
    assert exec_server.backend.stats.pushes == JOBS  # exactly one push per job
    assert [job["attempts"] for job in json.loads(resumed.stdout)["jobs"]] == [1] * JOBS
    # the uninterrupted run comes last, so its equal jobs cannot be mistaken for the lost ones
    assert _outputs(resumed) == _outputs(_run(_write(tmp_path / "baseline"), exec_server))
    run_id = json.loads(resumed.stdout)["run_id"]
    record = (manifest.parent / ".sievefile" / "runs" / f"{run_id}.toml").read_text()
    assert 'status = "finished"' in record


def test_a_plain_run_after_a_crash_points_at_resume(exec_server, tmp_path: Path) -> None:
    manifest = _write(tmp_path / "m")
    assert _run(manifest, exec_server, crash="waiting:1").returncode == -signal.SIGKILL
    status = subprocess.run(
        [sys.executable, "-m", "runner", "runs", "-C", str(manifest.parent)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "crashed" in status.stdout  # its record says running, but nothing holds its lock
    plain = _run(manifest, exec_server, "--progress", "plain")
    assert plain.returncode == 0, plain.stderr
    assert "sievefile run --resume" in plain.stderr


def test_an_embedded_run_killed_mid_job_pushes_its_lost_jobs_again(tmp_path: Path) -> None:
    # the embedded backend's jobs die with the runner: nothing to re-attach to
    manifest = tmp_path / "local.toml"
    manifest.write_text(
        MANIFEST.replace("exec/nap", "local/sleep").replace(
            'value = "${{ matrix.i }}"', 'payload = "${{ matrix.i }}"'
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIEVE_", "SIEVEFILE_"))}
    command = [sys.executable, "-m", "runner", "run", str(manifest), "--local", "--json"]
    command += ["--progress", "none"]
    killed = subprocess.run(
        command, capture_output=True, text=True, timeout=60,
        env={**env, "SIEVEFILE_TEST_CRASH_AT": "waiting:2"},
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL
    resumed = subprocess.run(
        [*command, "--resume"], capture_output=True, text=True, timeout=60, env=env
    )
    outputs = _outputs(resumed)
    assert outputs["join"][0]["value"] == [[1], [2], [3]]
    ledger = Ledger.for_manifest(manifest)
    job_ids = ledger.claimed_job_ids()
    ledger.close()
    assert len(job_ids) > JOBS  # the jobs lost with the first process were pushed again


def test_ctrl_c_with_detach_leaves_jobs_running_for_resume(exec_server, tmp_path: Path) -> None:
    manifest = _write(tmp_path / "detach")
    manifest.write_text(MANIFEST.replace("seconds = 0.3", "seconds = 1.5"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIEVE_", "SIEVEFILE_"))}
    command = [sys.executable, "-m", "runner", "run", str(manifest), "--detach"]
    process = subprocess.Popen(
        [*command, "--api-url", exec_server.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**env, "SIEVE_API_KEY": exec_server.api_key},
    )
    pushed, rest = interrupt_after_pushes(process, 3)
    assert process.wait(30) == 130
    assert "leaving jobs in flight running" in rest
    assert rest.count("detached") >= 3
    with exec_server.client() as client:
        statuses = {client.get(f"/jobs/{job_id}").json()["status"] for job_id in pushed}
    assert statuses <= {"queued", "processing", "finished"}  # not cancelled
    resumed = _run(manifest, exec_server, "--resume")
    outputs = _outputs(resumed)
    assert outputs["join"][0]["value"] == [[1], [2], [3]]
    assert exec_server.backend.stats.pushes == JOBS
