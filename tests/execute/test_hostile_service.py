"""A service that answers one job's questions with nonsense, in a real `sievefile run`: that job
fails with a clear error, the others finish with their outputs, and no traceback is printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.faultproxy import FaultProxy, Transform

MANIFEST = """\
version = 1
[jobs.echo]
function = "local/echo"
matrix = { i = [1, 2, 3] }
inputs = { value = "${{ matrix.i }}" }
"""


def _for_job_two(change: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[Any], Any]:
    """A body transform that changes only the job whose `value` input is 2, wherever it is
    answered: by itself, or as an item of a list page."""

    def transform_job(job: Any) -> Any:
        inputs = job.get("inputs") if isinstance(job, dict) else None
        value = inputs.get("value", {}).get("data") if isinstance(inputs, dict) else None
        return change(job) if value == 2 else job

    def transform(body: Any) -> Any:
        if isinstance(body, dict) and isinstance(body.get("data"), list):
            return {**body, "data": [transform_job(job) for job in body["data"]]}
        return transform_job(body)

    return transform


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda job: {**job, "status": "zombie"}, "status 'zombie', which sievefile does not know"),
        (lambda job: {k: v for k, v in job.items() if k != "status"}, "a job without a status"),
        (lambda job: {**job, "outputs": "abc"}, "outputs are not a list of objects"),
        (
            lambda job: {**job, "outputs": [{"data": 0}] * 20_000},
            "20,000 outputs, more than sievefile accepts",
        ),
    ],
    ids=["unknown-status", "missing-status", "outputs-wrong-type", "absurdly-many-outputs"],
)
def test_one_job_s_unusable_answers_fail_it_alone_without_a_traceback(
    change: Callable[[dict[str, Any]], dict[str, Any]],
    message: str,
    exec_server: Any,
    tmp_path: Path,
) -> None:
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(MANIFEST)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIEVE_", "SIEVEFILE_"))}
    env["SIEVE_API_KEY"] = exec_server.api_key
    with FaultProxy(exec_server.url) as proxy:
        proxy.add_fault(Transform(body=_for_job_two(change)), path="/v2/jobs", times=10_000)
        process = subprocess.run(
            [sys.executable, "-m", "runner", "run", str(manifest), "--api-url", proxy.url,
             "--keep-going", "--json", "--progress", "plain"],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
    assert process.returncode == 1, process.stderr
    assert "Traceback" not in process.stderr + process.stdout
    jobs = {job["key"]: job for job in json.loads(process.stdout)["jobs"]}
    assert jobs["echo[i=2]"]["status"] == "failed"
    assert message in jobs["echo[i=2]"]["error"]
    for key, value in (("echo[i=1]", 1), ("echo[i=3]", 3)):  # nothing else was lost
        assert jobs[key]["status"] == "finished"
        assert jobs[key]["outputs"][0]["value"] == value
    assert exec_server.backend.stats.pushes == 3  # and nothing was pushed twice
