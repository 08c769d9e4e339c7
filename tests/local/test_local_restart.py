"""A `sievefile serve` with a file database answers for its jobs after a crash and restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from runner.local.backend import INTERRUPTED_MESSAGE
from tests.support.waiting import wait_for_status, wait_until


def test_a_killed_server_restarts_with_every_job_it_accepted(
    start_local_server: Any, tmp_path: Path
) -> None:
    db = tmp_path / "jobs.db"
    files = tmp_path / "files"
    options = {"db": db, "files_dir": files, "plugins": ["sample_functions"], "workers": 1}
    first = start_local_server(in_subprocess=True, **options)
    with first.client(timeout=10) as api:
        made = api.post("/push", json={"function": "test/write-text", "inputs": {"text": "kept"}})
        finished_id = made.json()["id"]
        first.wait_for_job(finished_id)
        failed_id = api.post(
            "/push", json={"function": "test/fail", "inputs": {"message": "before the crash"}}
        ).json()["id"]
        first.wait_for_job(failed_id)
        running_id = api.post(
            "/push", json={"function": "test/nap", "inputs": {"seconds": 60}}
        ).json()["id"]
        wait_for_status(api, running_id, "processing")
        queued_id = api.post(
            "/push", json={"function": "test/kinds", "inputs": {"text": "later"}}
        ).json()["id"]
        assert api.get(f"/jobs/{queued_id}").json()["status"] == "queued"
        before = {job_id: api.get(f"/jobs/{job_id}").json() for job_id in (finished_id, failed_id)}
    first.kill()

    second = start_local_server(in_subprocess=True, api_key=first.api_key, **options)
    with second.client(timeout=10) as api:
        for job_id, job in before.items():
            assert api.get(f"/jobs/{job_id}").json() == job
        interrupted = api.get(f"/jobs/{running_id}").json()
        assert interrupted["status"] == "error"
        assert interrupted["error"] == INTERRUPTED_MESSAGE
        assert interrupted["completed_at"] is not None
        # the queued job runs after the restart
        rerun = second.wait_for_job(queued_id)
        assert rerun["status"] == "finished"
        assert rerun["outputs"][0]["data"]["text"] == "later"
        listed = api.get("/jobs").json()["data"]
        assert [job["id"] for job in listed] == [queued_id, running_id, failed_id, finished_id]
        # the stored output file outlived the crash; the restarted server serves it at its
        # new address, and takes the old URL as an input without fetching it
        old_url = before[finished_id]["outputs"][0]["data"]["url"]
        token_and_name = old_url.split("/v2/files/", 1)[1]
        assert httpx.get(f"{second.url}/v2/files/{token_and_name}").text == "kept"
        chained = second.wait_for_job(
            api.post(
                "/push", json={"function": "test/read-text", "inputs": {"file": {"url": old_url}}}
            ).json()["id"]
        )
        assert chained["status"] == "finished", chained["error"]
        assert chained["outputs"][0]["data"]["text"] == "kept"


def test_a_clean_stop_ends_running_jobs_as_errors(start_local_server: Any, tmp_path: Path) -> None:
    options = {"db": tmp_path / "jobs.db", "plugins": ["sample_functions"], "workers": 1}
    server = start_local_server(in_subprocess=True, **options)
    with server.client(timeout=10) as api:
        job_id = api.post("/push", json={"function": "test/nap", "inputs": {"seconds": 60}}).json()[
            "id"
        ]
        wait_for_status(api, job_id, "processing")
    server.stop()  # SIGTERM: uvicorn shuts down, the backend closes
    again = start_local_server(in_subprocess=True, api_key=server.api_key, **options)
    with again.client() as api:
        job = api.get(f"/jobs/{job_id}").json()
    assert job["status"] == "error"
    assert "shut down while this job was running" in job["error"]


def test_two_servers_cannot_share_a_database(start_local_server: Any, tmp_path: Path) -> None:
    from runner.errors import BackendError
    from runner.local.backend import LocalBackend
    from runner.local.registry import FunctionRegistry

    db = tmp_path / "jobs.db"
    start_local_server(in_subprocess=True, db=db, plugins=["sample_functions"])
    second = LocalBackend(registry=FunctionRegistry(), db=db)
    with pytest.raises(BackendError, match="in use by another local server"):
        second.start()


def test_a_queued_job_whose_function_changed_meanwhile_does_not_run(tmp_path: Path) -> None:
    from runner.local.backend import LocalBackend
    from runner.local.registry import FunctionRegistry
    from runner.local.types import sleep

    def block(seconds: float) -> str:
        sleep(seconds)
        return "done"

    def greet(name: str) -> str:
        return f"hello {name}"

    def greet_changed(name: str) -> str:
        return f"goodbye {name}"

    def registry(greeting: Any) -> FunctionRegistry:
        functions = FunctionRegistry()
        functions.register(block, name="t/block")
        functions.register(greeting, name="t/greet")
        return functions

    db = tmp_path / "jobs.db"
    first = LocalBackend(registry=registry(greet), db=db, workers=1, shutdown_grace=2).start()
    blocker = first.push({"function": "t/block", "inputs": {"seconds": 30}})["id"]
    queued = first.push({"function": "t/greet", "inputs": {"name": "you"}})["id"]
    # the one worker is busy
    wait_until(lambda: first.job(blocker)["status"] == "processing", what="the blocker to run")
    first.close()  # the blocker ends as an error; the queued job stays queued in the file

    with LocalBackend(registry=registry(greet_changed), db=db, workers=1) as second:
        job = second.wait(queued, 5)
    assert job["status"] == "error"
    assert "t/greet changed after this job was pushed" in job["error"]
    assert job["outputs"] == []
