"""A run's default parallelism follows the organisation's concurrency limit when the service
reports one (`GET /v2/user/concurrency`), and never overrides what the user set."""

from __future__ import annotations

from typing import Any

MANIFEST = """
version = 1
[jobs.a]
function = "exec/nap"
matrix = { i = [1, 2, 3, 4, 5, 6] }
inputs = { seconds = 0.2, value = "${{ matrix.i }}" }
"""


def _notices(run: Any) -> list[str]:
    return [event.message for event in run.events if event.kind == "notice"]


def test_the_default_parallelism_is_capped_by_the_service_limit(run_text, exec_server) -> None:
    run = run_text(MANIFEST)
    assert run.summary.ok
    (notice,) = _notices(run)
    assert "max_concurrency 4" in notice  # the exec server runs 4 workers
    assert notice.endswith("this run: max_parallel 4")
    assert exec_server.backend.stats.requests("GET /user/concurrency") == 1


def test_a_parallelism_the_user_set_is_kept_and_the_service_not_asked(
    run_text, exec_server
) -> None:
    run = run_text(MANIFEST.replace("version = 1", "version = 1\n[run]\nmax_parallel = 16"))
    assert run.summary.ok
    assert _notices(run) == []
    run = run_text(MANIFEST, max_parallel=2)
    assert _notices(run) == []
    assert exec_server.backend.stats.requests("GET /user/concurrency") == 0
