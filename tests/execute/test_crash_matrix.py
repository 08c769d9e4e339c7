"""The crash matrix: a 200-job run SIGKILLed at 20 random moments, resumed after each; and the
local backend itself killed and restarted under a running runner.

Each kill lands at a random ledger checkpoint (`SIEVEFILE_TEST_CRASH_AT`, see
`runner.execute.ledger`) drawn from a seeded generator: before a push is sent, after the service
created a job but before its id was recorded, while waiting, after the outputs arrived but
before they were recorded, after a sink got an output but before the ledger knew, right after a
delivery was recorded. After the last resume: no job pushed twice (the server's own count), no
output lost (one file per job in the `local` sink, holding its value), the run record complete.
`SIEVEFILE_CRASH_KILLS` / `SIEVEFILE_CRASH_JOBS` / `SIEVEFILE_CRASH_SEED` change the size.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runner._toml import toml_loads
from tests.support.ports import free_port

JOBS = int(os.environ.get("SIEVEFILE_CRASH_JOBS", "200"))
KILLS = int(os.environ.get("SIEVEFILE_CRASH_KILLS", "20"))
SEED = int(os.environ.get("SIEVEFILE_CRASH_SEED", "20261202"))
POINTS = ("before-push", "after-push", "waiting", "fetched", "deliver", "delivered")

MANIFEST = f"""\
version = 1
name = "matrix"
[run]
max_parallel = 4                 # each process gets only a few jobs further before its kill
[jobs.many]
function = "local/echo"
matrix = {{ i = {list(range(JOBS))} }}
inputs = {{ value = "${{{{ matrix.i }}}}" }}

[[sinks]]
use = "local"
path = "out"
"""


def _env(server: Any, crash: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIEVE_", "SIEVEFILE_"))}
    env["SIEVE_API_KEY"] = server.api_key
    env["SIEVEFILE_LOAD_PLUGINS"] = "plugins.local_sink"
    if crash is not None:
        env["SIEVEFILE_TEST_CRASH_AT"] = crash
    return env


def _run(manifest: Path, server: Any, *args: str, crash: str | None = None) -> Any:
    command = [sys.executable, "-m", "runner", "run", str(manifest), "--api-url", server.url]
    return subprocess.run(
        [*command, "--progress", "none", "--json", *args],
        capture_output=True,
        text=True,
        env=_env(server, crash),
        timeout=120,
    )


def _server_values(server: Any) -> list[Any]:
    """The `value` input of every job the server holds (its own store, not the API)."""
    values: list[Any] = []
    offset = 0
    while offset >= 0:
        page = server.backend.jobs(limit=500, offset=offset)
        values.extend(job["inputs"]["value"]["data"] for job in page["data"])
        offset = page["next_offset"]
    return values


@pytest.mark.slow
def test_a_run_killed_at_random_moments_resumes_without_duplicates_or_losses(
    exec_server: Any, tmp_path: Path
) -> None:
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(MANIFEST)
    rng = random.Random(SEED)
    kills: list[str] = []
    finished = None
    for _ in range(KILLS):
        crash = f"{rng.choice(POINTS)}:{rng.randint(1, 6)}"
        process = _run(manifest, exec_server, *(["--resume"] if kills else []), crash=crash)
        if process.returncode == 0:  # the run ended before reaching this moment
            finished = process
            break
        assert process.returncode == -signal.SIGKILL, process.stderr
        kills.append(crash)
    if finished is None:
        finished = _run(manifest, exec_server, "--resume")
    assert finished.returncode == 0, finished.stderr + finished.stdout
    assert len(kills) == KILLS, f"the run finished after {len(kills)} kills: {kills}"

    summary = json.loads(finished.stdout)
    assert len(summary["jobs"]) == JOBS
    assert {job["status"] for job in summary["jobs"]} == {"finished"}
    # no duplicate push: one job per value on the server, none twice
    values = _server_values(exec_server)
    assert sorted(values) == list(range(JOBS)), f"{len(values) - JOBS} duplicate pushes"
    # no lost output: one file per job, with what that job returned
    files = sorted((tmp_path / "out").glob("*/output_0.json"))
    delivered = sorted(json.loads(path.read_text())["value"] for path in files)
    assert delivered == list(range(JOBS))
    assert summary["deliveries"]["failed"] == 0
    # the run record is complete: every job, finished, with its job id and its delivery
    record_path = tmp_path / ".sievefile" / "runs" / f"{summary['run_id']}.toml"
    record = toml_loads(record_path.read_text())
    assert record["status"] == "finished"
    assert len(record["jobs"]) == JOBS
    for key, job in record["jobs"].items():
        assert job["status"] == "finished", key
        assert job["job_id"], key
        assert [d["status"] for d in job["deliveries"]] == ["delivered"], key
    print(f"\ncrash matrix: {JOBS} jobs, {len(kills)} kills survived: {', '.join(kills)}")


RESTART_MANIFEST = """\
version = 1
[run]
max_parallel = 8
[defaults]
retries = 2        # a job the server was running when it died ends `error`: push it again
[jobs.nap]
function = "exec/nap"
matrix = { i = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] }
inputs = { seconds = 0.4, value = "${{ matrix.i }}" }
"""


@pytest.mark.slow
def test_the_runner_waits_for_a_killed_server_to_come_back_and_finishes(
    start_local_server: Any, tmp_path: Path
) -> None:
    port = free_port()
    options: dict[str, Any] = {
        "db": tmp_path / "jobs.db",
        "files_dir": tmp_path / "files",
        "plugins": ["exec_functions"],
        "workers": 2,
        "port": port,
        "in_subprocess": True,
    }
    server = start_local_server(**options)
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(RESTART_MANIFEST)
    command = [sys.executable, "-m", "runner", "run", str(manifest), "--api-url", server.url]
    runner = subprocess.Popen(
        [*command, "--progress", "plain", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(server),
    )
    assert runner.stderr is not None
    for line in runner.stderr:  # progress lines: kill the server once jobs are running
        if " pushed " in line:
            break
    server.kill()
    restarted = start_local_server(**{**options, "api_key": server.api_key})
    stdout, stderr = runner.communicate(timeout=120)
    assert runner.returncode == 0, stderr + stdout
    summary = json.loads(stdout)
    outputs = sorted(job["outputs"][0] for job in summary["jobs"])
    assert outputs == list(range(12))
    with restarted.client() as api:
        stats = api.get("/_stats").json()
    assert restarted.url == server.url
    # the runner reconnected: it watched its jobs on the restarted server
    assert stats["requests"].get("GET /jobs", 0) > 0
