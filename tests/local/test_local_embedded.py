"""The embedded backend: the same app in process through httpx.ASGITransport."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

import httpx
import pytest
import sample_functions

from runner.errors import ApiError, BackendError
from runner.local import EMBEDDED_BASE_URL, LocalBackend
from runner.plugins import build_plugin_manager


def sample_backend(**options: Any) -> LocalBackend:
    manager = build_plugin_manager((), load_entry_points=False)
    manager.register(sample_functions)
    return LocalBackend(plugin_manager=manager, **options)


def test_the_embedded_app_serves_the_api_in_process(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with sample_backend(files_dir=tmp_path / "files") as backend:
            transport = backend.transport()
            async with httpx.AsyncClient(transport=transport, base_url=EMBEDDED_BASE_URL) as api:
                body = {"function": "test/write-text", "inputs": {"text": "embedded"}}
                pushed = await api.post("/v2/push", json=body)
                assert pushed.status_code == 200
                job = await asyncio.to_thread(backend.wait, pushed.json()["id"], 5)
                assert job["status"] == "finished"
                url = job["outputs"][0]["data"]["url"]
                # embedded outputs are file:// URLs a user can open
                assert url.startswith("file://")
                path = Path(url2pathname(urlparse(url).path))
                assert path.read_text() == "embedded"
                assert path.is_relative_to(tmp_path / "files")
                # ... and they are valid inputs for the next job
                body = {"function": "test/read-text", "inputs": {"file": {"url": url}}}
                chained = await api.post("/v2/push", json=body)
                result = await asyncio.to_thread(backend.wait, chained.json()["id"], 5)
                assert result["outputs"][0]["data"]["text"] == "embedded"
                assert (await api.get("/v2/jobs/nope")).status_code == 404
        # files_dir was given, so the outputs outlive the backend
        assert path.read_text() == "embedded"

    asyncio.run(scenario())


def test_listeners_hear_every_change_without_polling() -> None:
    seen: list[tuple[str, int]] = []
    done = threading.Event()

    def listener(job: dict[str, Any]) -> None:
        seen.append((job["status"], len(job["outputs"])))
        if job["status"] == "finished":
            done.set()

    with sample_backend() as backend:
        remove = backend.add_listener(listener)
        job_id = backend.push({"function": "test/count", "inputs": {"n": 2}})["id"]
        assert done.wait(5)
        assert seen == [
            ("queued", 0),
            ("processing", 0),
            ("processing", 1),
            ("processing", 2),
            ("finished", 2),
        ]
        assert backend.stats.job_requests(job_id) == {"PUSH": 1}  # no GETs were needed
        remove()
        backend.wait(backend.push({"function": "test/nothing", "inputs": {}})["id"], 5)
        assert len(seen) == 5


def test_a_failing_listener_does_not_break_the_job() -> None:
    def broken(job: dict[str, Any]) -> None:
        raise RuntimeError("listener bug")

    with sample_backend() as backend:
        backend.add_listener(broken)
        job_id = backend.push({"function": "test/kinds", "inputs": {"text": "a"}})["id"]
        assert backend.wait(job_id, 5)["status"] == "finished"


def test_the_python_api_raises_api_errors_like_the_http_one() -> None:
    with sample_backend() as backend:
        with pytest.raises(ApiError) as unknown:
            backend.job("missing")
        assert (unknown.value.status_code, unknown.value.detail) == (404, "Job not found.")
        with pytest.raises(ApiError) as invalid:
            backend.push({"function": "test/kinds", "inputs": {}})
        assert invalid.value.status_code == 422
        assert "inputs.text" in str(invalid.value)
        napping = backend.push({"function": "test/nap", "inputs": {"seconds": 5}})["id"]
        with pytest.raises(BackendError, match="still processing"):
            backend.wait(napping, 0.5)


def test_close_ends_running_jobs_and_a_closed_backend_refuses_work() -> None:
    backend = sample_backend(shutdown_grace=2.0).start()
    job_id = backend.push({"function": "test/nap", "inputs": {"seconds": 30}})["id"]
    running = threading.Event()
    backend.add_listener(lambda job: running.set() if job["status"] == "processing" else None)
    if backend.job(job_id)["status"] != "processing":
        assert running.wait(5)
    seen: list[dict[str, Any]] = []
    backend.add_listener(seen.append)
    backend.close()
    assert seen[-1]["status"] == "error"
    assert "shut down" in seen[-1]["error"]
    with pytest.raises(BackendError, match="closed"):
        backend.push({"function": "test/kinds", "inputs": {"text": "a"}})


def test_workers_must_be_positive() -> None:
    with pytest.raises(BackendError, match="at least 1"):
        sample_backend(workers=0)


def test_a_public_url_may_be_given_with_or_without_v2(tmp_path: Path) -> None:
    from runner.local.files import FileStore

    source = tmp_path / "a.txt"
    source.write_text("x")
    for given in ("http://files.example:8000", "http://files.example:8000/v2/"):
        store = FileStore(tmp_path / "store", public_url=given)
        url = store.put(source)
        assert url.startswith("http://files.example:8000/v2/files/")
        assert store.own_file(url) is not None


def test_cancelled_queued_jobs_leave_no_cancel_event_behind() -> None:
    with sample_backend(workers=1) as backend:
        blocker = backend.push({"function": "test/nap", "inputs": {"seconds": 30}})["id"]
        queued = backend.push({"function": "test/kinds", "inputs": {"text": "a"}})["id"]
        backend.cancel(queued)
        backend.cancel(blocker)
        last = backend.push({"function": "test/kinds", "inputs": {"text": "b"}})["id"]
        backend.wait(last, 5)
        assert backend._cancel_events == {}
