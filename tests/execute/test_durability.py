"""The run ledger, its lock, the result cache, resume after a detach, runs/status/retry."""

from __future__ import annotations

import asyncio
import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from runner.backend import Backend
from runner.cli import cli
from runner.errors import ConfigError, RunError
from runner.execute.ledger import Ledger, RunLock
from runner.execute.outcome import RunEvent
from runner.execute.records import find_record
from runner.execute.run import RunRequest, execute
from runner.execute.scheduler import Scheduler

PIPELINE = """
version = 1
[jobs.a]
function = "exec/nap"
inputs = { seconds = 0.1, value = 1 }
[jobs.b]
function = "local/echo"
inputs.value = "${{ jobs.a.outputs[0] }}"
"""


def test_an_equal_job_reuses_earlier_outputs_without_a_push(run_text, exec_server) -> None:
    first = run_text(PIPELINE)
    assert first.summary.ok
    assert exec_server.backend.stats.pushes == 2
    second = run_text(PIPELINE)
    assert second.summary.ok
    assert exec_server.backend.stats.pushes == 2  # nothing pushed: both came from the cache
    assert second.kinds("a") == ["cached"]
    assert second.kinds("b") == ["cached"]
    for key in ("a", "b"):
        cached, original = second.outcome(key), first.outcome(key)
        assert cached.outputs == original.outputs
        assert cached.cached_from == f"{first.summary.run_id}/{key}"
        assert cached.job_id == original.job_id


def test_force_and_force_job_push_again(run_text, exec_server) -> None:
    run_text(PIPELINE)
    forced_b = run_text(PIPELINE, force_jobs=["b"])
    assert forced_b.kinds("a") == ["cached"]
    assert "pushed" in forced_b.kinds("b")
    assert exec_server.backend.stats.pushes == 3
    with_ancestors = run_text(PIPELINE, force_jobs=["+b"])
    assert "pushed" in with_ancestors.kinds("a")
    assert "pushed" in with_ancestors.kinds("b")
    assert exec_server.backend.stats.pushes == 5
    everything = run_text(PIPELINE, force=True)
    assert everything.summary.ok
    assert not any(o.cached_from for o in everything.summary.outcomes)
    assert exec_server.backend.stats.pushes == 7


def test_changed_inputs_miss_the_cache(run_text, exec_server) -> None:
    run_text(PIPELINE)
    changed = run_text(PIPELINE.replace("value = 1", "value = 2"))
    assert changed.outcome("b").outputs[0]["value"] == 2
    assert exec_server.backend.stats.pushes == 4


def test_secret_values_never_reach_the_ledger_or_the_record(
    run_text, exec_server, tmp_path: Path
) -> None:
    secret = "s3cr3t-token-value-9731"
    manifest = """
        version = 1
        [jobs.echo]
        function = "local/echo"
        inputs.value = { auth = "${{ env.TOKEN }}", text = "hello" }
        """
    run = run_text(manifest, environ={"TOKEN": secret})
    assert run.summary.ok
    state = tmp_path / ".sievefile"
    stored = b"".join(path.read_bytes() for path in state.rglob("*") if path.is_file())
    assert b"hello" in stored  # the outputs are there, masked
    assert secret.encode() not in stored
    # outputs stored masked are never reused: they would pass on `***`
    again = run_text(manifest, environ={"TOKEN": secret})
    assert "pushed" in again.kinds("echo")
    assert again.outcome("echo").outputs[0]["value"]["auth"] == secret
    assert exec_server.backend.stats.pushes == 2


def test_the_cache_key_holds_secret_names_not_values(run_text, exec_server) -> None:
    manifest = """
        version = 1
        [jobs.nap]
        function = "exec/nap"
        inputs = { seconds = 0.05, value = "public" }
        env = { TOKEN = "${{ env.TOKEN }}" }
        """
    assert run_text(manifest, environ={"TOKEN": "first-value-1234"}).summary.ok
    again = run_text(manifest, environ={"TOKEN": "another-value-4242"})
    assert again.kinds("nap") == ["cached"]
    renamed = run_text(manifest.replace("env.TOKEN", "env.OTHER"), environ={"OTHER": "x-1234"})
    assert "pushed" in renamed.kinds("nap")
    assert exec_server.backend.stats.pushes == 2


def test_a_second_run_of_the_same_manifest_is_refused_while_one_runs(
    run_text, tmp_path: Path
) -> None:
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(textwrap.dedent(PIPELINE))
    with RunLock(manifest) as lock:
        assert lock.is_held()
        with pytest.raises(RunError) as refused:
            run_text(PIPELINE)
    assert "another sievefile run of this manifest is in progress" in str(refused.value)
    assert run_text(PIPELINE).summary.ok  # released: the next run goes ahead


def test_the_ledger_records_intent_job_id_and_outcome(run_text, tmp_path: Path) -> None:
    run = run_text(PIPELINE)
    ledger = Ledger(tmp_path / ".sievefile" / "state.db")
    rows = ledger.jobs(run.summary.run_id)
    assert set(rows) == {"a", "b"}
    for key, row in rows.items():
        outcome = run.outcome(key)
        assert row.status == "finished"
        assert row.job_id == outcome.job_id
        assert row.attempts == 1
        assert row.outputs == outcome.outputs
        assert row.intent_at is not None
        assert row.pushed_at is not None
        assert row.intent_at <= row.pushed_at <= (row.ended_at or 0)
    assert ledger.claimed_job_ids() == {run.outcome("a").job_id, run.outcome("b").job_id}
    ledger.close()
    assert (tmp_path / ".sievefile" / ".gitignore").read_text().splitlines()[-1] == "*"


def test_resume_without_an_interrupted_run_says_so(run_text) -> None:
    run_text(PIPELINE)
    with pytest.raises(ConfigError, match="no interrupted run to resume"):
        run_text(PIPELINE, resume=True)


def test_detach_leaves_jobs_running_and_resume_collects_them(exec_server, tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(
        textwrap.dedent(
            """
            version = 1
            [jobs.slow]
            function = "exec/nap"
            matrix = { i = [1, 2] }
            inputs = { seconds = 1.0, value = "${{ matrix.i }}" }
            [jobs.after]
            function = "local/echo"
            inputs.value = "${{ jobs.slow.outputs }}"
            """
        )
    )
    backend = Backend(kind="remote", url=exec_server.url, api_key=exec_server.api_key)
    schedulers: list[Scheduler] = []
    pushed: list[str] = []

    def report(event: RunEvent) -> None:
        if event.kind == "pushed":
            pushed.append(event.key)
            if len(pushed) == 2:
                schedulers[0].interrupt(detach=True)

    request = RunRequest(manifest, backend=backend, detach=True)
    first = asyncio.run(execute(request, report=report, on_scheduler=schedulers.append))
    assert first.interrupted
    detached = [o for o in first.outcomes if o.detached]
    assert len(detached) == 2
    events: list[RunEvent] = []
    resumed = asyncio.run(
        execute(RunRequest(manifest, backend=backend, resume=True), report=events.append)
    )
    assert resumed.ok
    assert resumed.run_id == first.run_id
    kinds = {(e.kind, e.key) for e in events}
    assert ("reattached", "slow[i=1]") in kinds
    assert ("reattached", "slow[i=2]") in kinds
    assert {o.job_id for o in detached} <= {o.job_id for o in resumed.outcomes}
    assert exec_server.backend.stats.pushes == 3  # two naps once each, then `after`


RETRY = """
version = 1
[jobs.flaky]
function = "exec/flaky"
inputs = { token = "TOKEN", failures = 1, value = "ok" }
[jobs.after]
function = "local/echo"
inputs.value = "${{ jobs.flaky.outputs[0] }}"
[jobs.steady]
function = "exec/nap"
inputs = { seconds = 0.05, value = "steady" }
"""


def test_runs_status_and_retry_commands(exec_server, tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(RETRY.replace("TOKEN", str(tmp_path)))
    env = {"SIEVE_API_KEY": exec_server.api_key, "SIEVE_API_URL": exec_server.url}
    runner = CliRunner()
    first = runner.invoke(cli, ["run", str(manifest), "--json", "--keep-going"], env=env)
    assert first.exit_code == 1, first.output
    run_id = json.loads(first.stdout)["run_id"]

    listed = runner.invoke(cli, ["runs", "-C", str(tmp_path)])
    assert listed.exit_code == 0
    assert run_id in listed.output
    assert "failed" in listed.output
    shown = runner.invoke(cli, ["status", run_id[:17], "-C", str(tmp_path), "--json"])
    record = json.loads(shown.output)
    assert record["status"] == "failed"
    assert record["jobs"]["flaky"]["status"] == "failed"
    assert record["jobs"]["after"]["status"] == "skipped"
    assert json.loads(record["jobs"]["steady"]["outputs"]) == ["steady"]
    assert len(record["manifest_sha256"]) == 64
    human = runner.invoke(cli, ["status", run_id, "-C", str(tmp_path)]).output
    assert human.splitlines()[0] == f"run {run_id}: failed (1 failed, 1 finished, 1 skipped)"
    assert '"steady"' in next(line for line in human.splitlines() if "steady" in line)

    retried = runner.invoke(cli, ["retry", run_id, "-C", str(tmp_path)], env=env)
    assert retried.exit_code == 0, retried.output
    assert "kept" in retried.output  # steady's outputs, not pushed again
    assert exec_server.backend.stats.pushes == 4  # flaky, steady; then flaky, after
    record = find_record(tmp_path / ".sievefile", run_id)
    assert record["status"] == "finished"
    assert {job["status"] for job in record["jobs"].values()} == {"finished"}

    unknown = runner.invoke(cli, ["status", "nope", "-C", str(tmp_path)])
    assert unknown.exit_code == 2
    assert "'nope' is not a run" in unknown.output


def test_cancel_deletes_the_jobs_a_detached_run_left_running(exec_server, tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(
        'version = 1\n[jobs.long]\nfunction = "exec/nap"\nmatrix = { i = [1, 2] }\n'
        'inputs = { seconds = 30, value = "${{ matrix.i }}" }\n'
    )
    backend = Backend(kind="remote", url=exec_server.url, api_key=exec_server.api_key)
    schedulers: list[Scheduler] = []
    pushed: list[str | None] = []

    def report(event: RunEvent) -> None:
        if event.kind == "pushed":
            pushed.append(event.job_id)
            if len(pushed) == 2:
                schedulers[0].interrupt(detach=True)

    request = RunRequest(manifest, backend=backend, detach=True)
    first = asyncio.run(execute(request, report=report, on_scheduler=schedulers.append))
    assert first.interrupted
    env = {"SIEVE_API_KEY": exec_server.api_key, "SIEVE_API_URL": exec_server.url}
    result = CliRunner().invoke(cli, ["cancel", first.run_id or "", "-C", str(tmp_path)], env=env)
    assert result.exit_code == 0, result.output
    assert result.output.count(": cancelled") == 2
    with exec_server.client() as client:
        for job_id in pushed:
            assert client.get(f"/jobs/{job_id}").json()["status"] == "cancelled"
    record = find_record(tmp_path / ".sievefile", first.run_id or "")
    assert {job["status"] for job in record["jobs"].values()} == {"cancelled"}


def test_the_record_holds_the_lock_and_a_new_locked_version_misses_the_cache(
    run_text, exec_server, tmp_path: Path
) -> None:
    lock = tmp_path / "manifest.toml.lock"
    lock.write_text('format = 1\n[functions."exec/nap"]\nschema_sha256 = "ab"\nversion = "v1"\n')
    # a made-up lock the server cannot describe: what is tested is the ledger, not validation
    first = run_text(PIPELINE, check_inputs=False)
    record = find_record(tmp_path / ".sievefile", first.summary.run_id or "")
    assert record["function_versions"] == {"exec/nap": "v1", "local/echo": "unlocked"}
    assert record["lock"] == lock.read_text()
    assert record["jobs"]["a"]["job_id"] == first.outcome("a").job_id
    lock.write_text(lock.read_text().replace('"v1"', '"v2"'))
    second = run_text(PIPELINE, check_inputs=False)
    assert "pushed" in second.kinds("a")  # another version: not the same work
    assert second.kinds("b") == ["cached"]  # its inputs came out equal
    assert exec_server.backend.stats.pushes == 3


def test_the_ledger_records_when_the_service_started_a_job(run_text, tmp_path: Path) -> None:
    run = run_text(
        'version = 1\n[jobs.long]\nfunction = "exec/nap"\ninputs = { seconds = 1.2, value = 1 }\n'
    )
    ledger = Ledger(tmp_path / ".sievefile" / "state.db")
    row = ledger.jobs(run.summary.run_id or "")["long"]
    ledger.close()
    assert row.status == "finished"
    assert row.started_at is not None
    assert (row.pushed_at or 0) <= row.started_at <= (row.ended_at or 0)
    record = find_record(tmp_path / ".sievefile", run.summary.run_id or "")
    assert "started_at" in record["jobs"]["long"]
