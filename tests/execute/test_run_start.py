"""A run against a remote backend sends the requests it needs before its first push (each
unpinned function's metadata, the service's concurrency) while its manifest is still being
checked: each once, none that the run would not have made, and a broken manifest is still the
error reported."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from runner.backend import Backend
from runner.errors import ManifestError, SievefileError
from runner.schemas.actions import lock_manifest
from tests.support.faultproxy import FaultProxy, Respond

MANIFEST = """
version = 1
[jobs.a]
function = "exec/nap"
inputs = { seconds = 0.01, value = 1 }
[jobs.b]
function = "exec/items"
inputs = { count = 2 }
[jobs.c]
function = "exec/nap"
inputs = { seconds = 0.01, value = "${{ jobs.b.outputs[0] }}" }
"""


def _gets(proxy: FaultProxy) -> Counter[str]:
    return Counter(seen.path for seen in proxy.log if seen.method == "GET")


def test_each_function_and_the_concurrency_are_asked_for_once(run_text, exec_server) -> None:
    with FaultProxy(exec_server.url) as proxy:
        run = run_text(MANIFEST, url=proxy.url)
    assert run.summary.ok
    gets = _gets(proxy)
    assert gets["/v2/functions/exec/nap"] == 1
    assert gets["/v2/functions/exec/items"] == 1
    assert gets["/v2/user/concurrency"] == 1


def test_a_broken_manifest_is_the_error_whatever_its_early_requests_met(
    run_text, exec_server, caplog: pytest.LogCaptureFixture
) -> None:
    broken = MANIFEST.replace("inputs = { count = 2 }", "inptus = { count = 2 }")
    caplog.set_level(logging.DEBUG)
    with FaultProxy(exec_server.url) as proxy:
        proxy.add_fault(Respond(401, {"detail": "invalid API key"}), times=100)
        with pytest.raises(ManifestError, match="unknown key 'inptus'"):
            run_text(broken, url=proxy.url)
    # sent before the checks found the problem, and its answer dropped quietly
    assert _gets(proxy)["/v2/functions/exec/nap"] == 1
    assert "never retrieved" not in caplog.text
    assert [seen for seen in proxy.log if seen.method != "GET"] == []


def test_no_early_fetch_when_the_lock_file_decides_the_versions(
    run_text, exec_server, tmp_path: Path
) -> None:
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(MANIFEST)
    backend = Backend(kind="remote", url=exec_server.url, api_key=exec_server.api_key)
    lock_manifest(manifest, backend, schemas_dir=tmp_path / "schemas")
    with FaultProxy(exec_server.url) as proxy:
        run = run_text(MANIFEST, url=proxy.url, schemas_dir=tmp_path / "schemas")
    assert run.summary.ok
    assert not [path for path in _gets(proxy) if path.startswith("/v2/functions/")]


@pytest.mark.parametrize("options", [{"select": ["a"]}, {"exclude": ["b", "c"]}])
def test_a_selection_fetches_only_the_functions_it_runs(
    run_text, exec_server, options: dict[str, Any]
) -> None:
    with FaultProxy(exec_server.url) as proxy:
        run = run_text(MANIFEST, url=proxy.url, **options)
    assert run.summary.ok
    gets = _gets(proxy)
    assert gets["/v2/functions/exec/nap"] == 1
    assert gets["/v2/functions/exec/items"] == 0


def test_a_parallelism_the_manifest_sets_sends_no_concurrency_request(
    run_text, exec_server
) -> None:
    with FaultProxy(exec_server.url) as proxy:
        run = run_text(
            MANIFEST.replace("version = 1", "version = 1\n[run]\nmax_parallel = 3"), url=proxy.url
        )
    assert run.summary.ok
    assert _gets(proxy)["/v2/user/concurrency"] == 0


def test_a_bad_backend_url_does_not_hide_a_broken_manifest(run_text) -> None:
    broken = MANIFEST.replace("inputs = { count = 2 }", "inptus = { count = 2 }")
    with pytest.raises(ManifestError, match="unknown key 'inptus'"):
        run_text(broken, url="http://127.0.0.1:notaport")


def test_locked_without_a_lock_file_sends_no_early_fetch(run_text, exec_server) -> None:
    with FaultProxy(exec_server.url) as proxy, pytest.raises(SievefileError, match="lock"):
        run_text(MANIFEST, url=proxy.url, locked=True)
    assert not [path for path in _gets(proxy) if path.startswith("/v2/functions/")]
