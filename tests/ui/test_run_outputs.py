"""What `sievefile run` prints for people and for programs, from real runs against a local
server: plain lines, --quiet, --verbose, colours and NO_COLOR, JSON Lines events checked
against their schema, the JUnit report, the summary of a long run, `status` and `plan` marks;
and never a secret in any of them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
from click.testing import CliRunner, Result
from junitparser import Failure, JUnitXml, Skipped

from runner.cli import cli
from runner.resources import EVENTS_SCHEMA, read_text
from tests.support.runs import interrupt_after_pushes
from tests.support.views import MIXED_KEYS, SECRET, run_env

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads(read_text(EVENTS_SCHEMA))


def _run(manifest: Path, server: Any, *args: str, color: bool = False, **env: str) -> Result:
    return CliRunner().invoke(
        cli,
        ["run", str(manifest), "--keep-going", *args],
        env=run_env(server, **env),
        color=color,
    )


def _no_secret(server: Any, *texts: str) -> None:
    for text in texts:
        assert SECRET not in text
        assert server.api_key not in text


def test_plain_lines_count_done_out_of_total(mixed_manifest: Path, exec_server: Any) -> None:
    result = _run(mixed_manifest, exec_server, "--progress", "plain")
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("backend: ")
    events = [line for line in lines if line.startswith("[")]
    assert events[0].startswith("[0/7] ")
    assert "started" in events[0]
    assert any(line.startswith("[7/7] ") for line in events)
    failed = next(line for line in events if " FAILED " in line)
    assert "bad" in failed
    assert "boom ***" in failed  # the secret, masked
    assert any(" retrying " in line and "flaky" in line for line in events)
    assert any(" delivered " in line for line in events)
    # 7 instances: the summary lists each, then what to do next, then the verdict
    assert "next: `sievefile retry " in result.stdout
    assert lines[-1].startswith("run failed: 5 finished, 1 failed, 1 skipped in ")
    _no_secret(exec_server, result.output)


def test_quiet_shows_only_errors_and_the_summary(mixed_manifest: Path, exec_server: Any) -> None:
    result = _run(mixed_manifest, exec_server, "--quiet")
    assert result.exit_code == 1, result.output
    assert "backend:" not in result.output
    events = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert len(events) == 1
    assert " FAILED " in events[0]
    assert "pushed" not in result.output
    assert result.stdout.splitlines()[-1].startswith("run failed: ")
    _no_secret(exec_server, result.output)


def test_verbose_shows_each_request_without_the_key(mixed_manifest: Path, exec_server: Any) -> None:
    result = _run(mixed_manifest, exec_server, "--progress", "plain", "--verbose")
    assert result.exit_code == 1, result.output
    requests = [line for line in result.stdout.splitlines() if "  http  " in line]
    assert any("POST /v2/push" in line and "- 200 in " in line for line in requests)
    assert all(line.endswith(" ms (X-API-Key: ***)") for line in requests)  # sent, redacted
    assert any("GET /v2/jobs" in line for line in requests)
    _no_secret(exec_server, result.output)


def test_colour_unless_no_color_or_the_flag(mixed_manifest: Path, exec_server: Any) -> None:
    coloured = _run(mixed_manifest, exec_server, "-q", color=True)
    assert "\x1b[" in coloured.stdout  # the verdict is styled when colours are allowed
    plain_env = _run(mixed_manifest, exec_server, "-q", color=True, NO_COLOR="1")
    plain_flag = _run(mixed_manifest, exec_server, "-q", "--no-color", color=True)
    for result in (plain_env, plain_flag):
        assert result.exit_code == 1, result.output
        assert "\x1b" not in result.output
        assert result.stdout.splitlines()[-1].startswith("run failed: ")


def _events(result: Result) -> list[dict[str, Any]]:
    assert result.stdout, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_json_events_of_real_runs_match_the_schema(
    mixed_manifest: Path, exec_server: Any, tmp_path: Path
) -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    first = _run(mixed_manifest, exec_server, "--progress", "json", "--verbose")
    second = _run(mixed_manifest, exec_server, "--progress", "json")  # the cache's events
    assert first.exit_code == second.exit_code == 1
    seen: dict[str, set[str]] = {}
    for result in (first, second):
        events = _events(result)  # every line of stdout is a JSON object: nothing else is there
        for event in events:
            errors = [error.message for error in validator.iter_errors(event)]
            assert not errors, (event, errors)
            if "job" in event and event["event"] != "output.failed":
                assert event["job"].split("[")[0] in {k.split("[")[0] for k in MIXED_KEYS}
            seen.setdefault(event["event"], set()).add(event.get("status", ""))
        # only the requests that fetch schemas come before the run starts
        run_events = [e for e in events if e["event"] != "http.request"]
        assert run_events[0]["event"] == "run.started"
        assert events[-1]["event"] == "run.finished"
        assert len({e["run_id"] for e in run_events}) == 1
        assert events[-1]["run_id"] in result.stderr  # the summary names the same run
        assert run_events[0]["total"] == len(MIXED_KEYS)
        finished = [e for e in events if e["event"] == "job.finished"]
        assert {e["job"] for e in finished} == MIXED_KEYS  # one end per instance
        _no_secret(exec_server, result.stdout, result.stderr)
    assert seen["job.finished"] >= {"finished", "failed", "skipped", "cached"}
    # (`job.status` running depends on a poll seeing a job run: the terminal test has them)
    for name in ("job.pushed", "job.retrying", "output.stored", "http.request", "run.finished"):
        assert name in seen


def test_junit_report_has_one_testcase_per_job_instance(
    mixed_manifest: Path, exec_server: Any, tmp_path: Path
) -> None:
    report = tmp_path / "reports" / "junit.xml"
    result = _run(mixed_manifest, exec_server, "-q", "--report", str(report))
    assert result.exit_code == 1, result.output
    xml = JUnitXml.fromfile(str(report))
    cases = {case.name: case for suite in xml for case in suite}
    assert set(cases) == MIXED_KEYS
    (failure,) = cases["bad"].result
    assert isinstance(failure, Failure)
    assert "boom ***" in failure.message
    (skipped,) = cases["after"].result
    assert isinstance(skipped, Skipped)
    assert "needs bad" in skipped.message
    assert cases["fan[i=2]"].classname == "fan"
    assert cases["hello"].is_passed
    suite = next(iter(xml))
    assert (suite.tests, suite.failures, suite.skipped) == (7, 1, 1)
    _no_secret(exec_server, report.read_text())


def test_junit_report_of_a_run_that_never_started(exec_server: Any, tmp_path: Path) -> None:
    manifest = tmp_path / "invalid.toml"
    manifest.write_text(
        'version = 1\n[jobs.a]\nfunction = "local/echo"\n'
        'inputs = { nope = "${{ env.SIEVEFILE_UI_TEST_SECRET }}" }\n'
    )
    report = tmp_path / "junit.xml"
    result = _run(manifest, exec_server, "-q", "--report", str(report))
    assert result.exit_code == 1, result.output
    (case,) = [case for suite in JUnitXml.fromfile(str(report)) for case in suite]
    assert case.name == "manifest"
    (failure,) = case.result
    assert isinstance(failure, Failure)
    assert "nope" in failure.text  # the validation error, located
    assert exec_server.backend.stats.pushes == 0
    _no_secret(exec_server, report.read_text(), result.output)


LONG = """\
version = 1
[jobs.many]
function = "exec/nap"
matrix = { i = [RANGE] }
inputs = { seconds = 0, value = "${{ matrix.i }}" }
[jobs.broken]
function = "exec/fail"
matrix = { i = [1, 2] }
inputs = { message = "broken ${{ matrix.i }} ${{ env.SIEVEFILE_UI_TEST_SECRET }}" }
"""


def test_a_long_run_summarises_failures_instead_of_listing_every_job(
    exec_server: Any, tmp_path: Path
) -> None:
    manifest = tmp_path / "long.toml"
    manifest.write_text(LONG.replace("RANGE", ", ".join(str(i) for i in range(40))))
    result = _run(manifest, exec_server, "-q")
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert not any("many[i=7]" in line for line in lines)  # no per-job table for 42 jobs
    start = lines.index("failed (2):")
    assert "broken[i=1]" in lines[start + 1]
    assert "broken 1 ***" in lines[start + 1]
    assert lines[-2].startswith(f"next: `sievefile retry {lines[-1].split('(run ')[1][:-1]}")
    assert lines[-1].startswith("run failed: 40 finished, 2 failed in ")
    verbose = _run(manifest, exec_server, "--progress", "none", "--verbose")
    assert any("many[i=7]" in line for line in verbose.stdout.splitlines())
    _no_secret(exec_server, result.output, verbose.output)


def test_status_shows_the_run_view_of_a_recorded_run(
    mixed_manifest: Path, exec_server: Any
) -> None:
    run = _run(mixed_manifest, exec_server, "--json")
    run_id = json.loads(run.stdout)["run_id"]
    shown = CliRunner().invoke(cli, ["status", run_id, "-C", str(mixed_manifest.parent)])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0] == f"run {run_id}: failed (1 failed, 5 finished, 1 skipped)"
    assert "7/7 done (100%)" in shown.output
    assert "failed 1" in shown.output
    assert "skipped 1" in shown.output
    assert any(line.startswith("  FAILED bad  RuntimeError: boom ***") for line in lines)
    assert any("exec/nap  3/3" in line for line in lines)  # per function
    assert any("-> local: delivered" in line for line in lines)  # where outputs went
    _no_secret(exec_server, shown.output)


def test_plan_marks_what_the_cache_would_reuse(mixed_manifest: Path, exec_server: Any) -> None:
    env = run_env(exec_server)
    before = CliRunner().invoke(cli, ["plan", str(mixed_manifest)], env=env)
    assert "cached" not in before.output
    _run(mixed_manifest, exec_server, "-q")
    after = CliRunner().invoke(cli, ["plan", str(mixed_manifest), "--json"], env=env)
    assert after.exit_code == 0, after.output
    document = json.loads(after.stdout)
    marked = {
        instance["key"]
        for wave in document["waves"]
        for job in wave["jobs"]
        for instance in job["instances"]
        if "cached_from" in instance
    }
    # what finished is reused; `bad` failed, and `after` needs its outputs
    assert marked == MIXED_KEYS - {"bad", "after"}
    assert document["cached"] == 5
    text = CliRunner().invoke(cli, ["plan", str(mixed_manifest)], env=env).output
    assert "the cache would reuse 5" in text
    assert "- fan[i=2]  (cached)" in text
    _no_secret(exec_server, text, after.output)


DETACHED = """\
version = 1
[jobs.slow]
function = "exec/nap"
matrix = { i = [1, 2] }
inputs = { seconds = 120, value = "${{ matrix.i }}" }
"""


def test_status_shows_the_jobs_a_detached_run_left_running(
    exec_server: Any, tmp_path: Path
) -> None:
    manifest = tmp_path / "detached.toml"
    manifest.write_text(DETACHED)
    command = [sys.executable, "-m", "runner", "run", str(manifest), "--detach", "--progress",
               "plain"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIEVE")}
    env.update(run_env(exec_server), PYTHONPATH=str(REPO))
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    pushed, _ = interrupt_after_pushes(process, 2)
    assert process.wait(60) == 130
    runs = CliRunner().invoke(cli, ["runs", "-C", str(tmp_path)]).output
    shown = CliRunner().invoke(cli, ["status", runs.split()[0], "-C", str(tmp_path)])
    assert shown.exit_code == 0, shown.output
    assert ": interrupted (" in shown.output.splitlines()[0]
    assert "0/2 done (0%)" in shown.output
    assert "in flight (2, longest first)" in shown.output
    for job_id in pushed:  # each job still running on the service, with its id
        assert job_id in shown.output
    CliRunner().invoke(
        cli, ["cancel", runs.split()[0], "-C", str(tmp_path)], env=run_env(exec_server)
    )
