"""A soak: a large run through a proxy that faults a fifth of all requests at random.

Every job must finish, each pushed exactly once (counted by the server), and every output
delivered exactly once to a `local` sink. CI runs 200 jobs; `SIEVEFILE_SOAK_JOBS=1000` (or
more) runs the full soak by hand. Faults: 500s, 429s, connections dropped before the request
was forwarded, answers lost after the server acted (for a push: the job exists, its id never
arrives) and latency, drawn evenly, reproducibly from a seed (`SIEVEFILE_SOAK_SEED`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from runner.execute.delivery import DeliveryPolicy
from runner.execute.ledger import Ledger
from runner.plugins import build_plugin_manager
from tests.support.faultproxy import FaultProxy

JOBS = int(os.environ.get("SIEVEFILE_SOAK_JOBS", "200"))
SEED = int(os.environ.get("SIEVEFILE_SOAK_SEED", "13"))
FAULT_RATE = 0.2


def soak_manifest(jobs: int) -> str:
    return f"""
    version = 1
    [run]
    max_parallel = 32
    retry_delay = "20ms"        # the faults pass quickly; keep the soak short
    retry_max_delay = "500ms"
    [defaults]
    max_instances = {max(jobs, 1000)}
    [jobs.soak]
    function = "local/echo"
    matrix = {{ i = {list(range(jobs))} }}
    inputs = {{ value = "${{{{ matrix.i }}}}" }}
    [[sinks]]
    use = "local"
    path = "out"
    """


def server_jobs(server: Any) -> list[dict[str, Any]]:
    """Every job the server holds, from its own store (not through the proxy)."""
    jobs: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        page = server.backend.jobs(limit=500, offset=offset)
        jobs.extend(page["data"])
        offset = page["next_offset"] if page["next_offset"] >= 0 else None
    return jobs


@pytest.mark.slow
def test_a_run_under_random_faults_finishes_every_job_pushed_and_delivered_once(
    run_text: Any, exec_server: Any, tmp_path: Path
) -> None:
    with FaultProxy(exec_server.url) as proxy:
        proxy.chaos(FAULT_RATE, seed=SEED, latency=0.2)
        run = run_text(
            soak_manifest(JOBS),
            url=proxy.url,
            plugins=build_plugin_manager(("plugins.local_sink",), load_entry_points=False),
            delivery=DeliveryPolicy(attempts=2, base_delay=0.01, max_delay=0.01),
        )
        injected = dict(proxy.injected)
        requests = len(proxy.log)
    summary = run.summary
    assert summary.ok, [(o.key, o.error) for o in summary.failed]
    assert len(summary.outcomes) == JOBS
    assert all(o.status.value == "finished" for o in summary.outcomes)

    # every fault kind happened, about a fifth of the requests in all
    assert set(injected) == {"500", "429", "drop", "lost-answer", "latency"}
    assert sum(injected.values()) >= FAULT_RATE * requests / 2

    # pushed exactly once, by the server's own count: one job per value, no other job
    values = [job["inputs"]["value"]["data"] for job in server_jobs(exec_server)]
    assert sorted(values) == list(range(JOBS))
    assert exec_server.backend.stats.pushes == JOBS

    # delivered exactly once: one delivery row per output, each done at its first attempt,
    # and one file per instance holding what the job returned
    ledger = Ledger.for_manifest(tmp_path / "manifest.toml")
    try:
        deliveries = ledger.deliveries(summary.run_id)
    finally:
        ledger.close()
    assert len(deliveries) == JOBS
    assert {(d.status, d.attempts) for d in deliveries} == {("delivered", 1)}
    files = sorted((tmp_path / "out").glob("*/output_0.json"))
    assert len(files) == JOBS
    delivered = sorted(json.loads(path.read_text())["value"] for path in files)
    assert delivered == list(range(JOBS))
    print(
        f"\nsoak: {JOBS} jobs, {requests} requests, {sum(injected.values())} faults "
        f"injected {injected}, duplicates 0, lost outputs 0"
    )
