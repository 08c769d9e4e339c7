"""Running jobs on the local server: statuses, outputs, errors, cancellation, files."""

from __future__ import annotations

import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
import sample_functions

from tests.support.waiting import wait_for_status, wait_until

NOT_PROCESSING = {"detail": "Job is not processing."}


def push(api: httpx.Client, function: str, **inputs: Any) -> str:
    response = api.post("/push", json={"function": function, "inputs": inputs})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def test_a_job_goes_queued_processing_finished(api: httpx.Client, server: Any) -> None:
    job_id = push(api, "test/nap", seconds=0.3, payload="slept")
    running = wait_for_status(api, job_id, "processing")
    assert running["started_at"] is not None
    assert running["completed_at"] is None
    job = server.wait_for_job(job_id)
    assert job["status"] == "finished"
    assert [o["data"] for o in job["outputs"]] == ["slept"]


def test_a_generator_makes_one_output_per_yield(api: httpx.Client, server: Any) -> None:
    response = api.post("/push", json={"function": "test/count", "inputs": {"n": 3}})
    assert response.json()["stream_output"] is True
    job = server.wait_for_job(response.json()["id"])
    assert [(o["type"], o["name"], o["data"]) for o in job["outputs"]] == [
        ("int", "output_0", 0),
        ("int", "output_0", 1),
        ("int", "output_0", 2),
    ]


def test_outputs_appear_while_a_generator_runs(api: httpx.Client, server: Any) -> None:
    job_id = push(api, "test/count", n=3, pause=0.5)
    job = wait_until(
        lambda: (job := api.get(f"/jobs/{job_id}").json())["outputs"] and job,
        what="a first output",
    )
    assert job["status"] == "processing"
    assert server.wait_for_job(job_id)["status"] == "finished"


def test_a_function_returning_none_finishes_without_outputs(api: httpx.Client, server: Any) -> None:
    job = server.wait_for_job(push(api, "test/nothing"))
    assert job["status"] == "finished"
    assert job["outputs"] == []


def test_an_exception_ends_the_job_as_error_with_its_message(
    api: httpx.Client, server: Any
) -> None:
    job = server.wait_for_job(push(api, "test/fail", message="the disk is full"))
    assert job["status"] == "error"
    assert job["error"] == "RuntimeError: the disk is full"
    assert job["completed_at"] is not None
    assert job["outputs"] == []


def test_sys_exit_in_a_function_fails_the_job_not_the_worker(start_local_server: Any) -> None:
    server = start_local_server(plugins=[sample_functions], builtins=(), workers=1)
    with server.client() as api:
        job = server.wait_for_job(push(api, "test/quit-early"))
        assert job["status"] == "error"
        assert job["error"] == "SystemExit: 3"
        assert server.wait_for_job(push(api, "test/kinds", text="a"))["status"] == "finished"


def test_an_output_json_cannot_carry_is_an_error(api: httpx.Client, server: Any) -> None:
    job = server.wait_for_job(push(api, "test/bad-output"))
    assert job["status"] == "error"
    assert "output is a object" in job["error"]


def test_returning_a_file_that_does_not_exist_is_an_error(api: httpx.Client, server: Any) -> None:
    job = server.wait_for_job(push(api, "test/lost-file"))
    assert job["status"] == "error"
    assert job["error"] == "returned file '/no/such/output.bin' does not exist"


def test_cancelling_a_queued_job_is_immediate(start_local_server: Any) -> None:
    server = start_local_server(plugins=[sample_functions], builtins=(), workers=1)
    with server.client() as api:
        blocker = push(api, "test/nap", seconds=30)
        wait_for_status(api, blocker, "processing")
        queued = push(api, "test/kinds", text="never")
        response = api.delete(f"/jobs/{queued}")
        assert response.status_code == 200
        assert "message" in response.json()
        job = api.get(f"/jobs/{queued}").json()
        assert job["status"] == "cancelled"
        assert job["started_at"] is None
        assert api.delete(f"/jobs/{blocker}").status_code == 200
        # The worker reaches the cancelled job later and must leave it alone.
        follower = server.wait_for_job(push(api, "test/kinds", text="after"))
        assert follower["status"] == "finished"
        assert api.get(f"/jobs/{queued}").json()["status"] == "cancelled"
        assert api.get(f"/jobs/{queued}").json()["outputs"] == []


@pytest.mark.parametrize("function", ["test/nap", "test/spin"])
def test_cancelling_a_running_job_stops_its_function(
    start_local_server: Any, function: str
) -> None:
    server = start_local_server(plugins=[sample_functions], builtins=(), workers=1)
    with server.client() as api:
        job_id = push(api, function, seconds=30)
        wait_for_status(api, job_id, "processing")
        assert api.delete(f"/jobs/{job_id}").status_code == 200
        assert api.get(f"/jobs/{job_id}").json()["status"] == "cancelled"
        # The only worker is free again: a next job runs long before the 30 s nap would end.
        after = server.wait_for_job(push(api, "test/kinds", text="next"), timeout=20)
        assert after["status"] == "finished"
        job = api.get(f"/jobs/{job_id}").json()
        assert job["status"] == "cancelled"
        assert job["outputs"] == []


def test_a_running_generator_is_stopped_between_outputs(start_local_server: Any) -> None:
    server = start_local_server(plugins=[sample_functions], builtins=(), workers=1)
    with server.client() as api:
        job_id = push(api, "test/count", n=1000, pause=0.05)
        wait_until(lambda: api.get(f"/jobs/{job_id}").json()["outputs"], what="a first output")
        assert api.delete(f"/jobs/{job_id}").status_code == 200
        kept = len(api.get(f"/jobs/{job_id}").json()["outputs"])
        # the one worker runs the next job only once the generator has stopped
        assert server.wait_for_job(push(api, "test/kinds", text="next"))["status"] == "finished"
        job = api.get(f"/jobs/{job_id}").json()
    assert job["status"] == "cancelled"
    assert len(job["outputs"]) == kept < 1000


def test_a_function_that_ignores_cancel_keeps_nothing_it_returns(start_local_server: Any) -> None:
    server = start_local_server(plugins=[sample_functions], builtins=(), workers=1)
    with server.client() as api:
        job_id = push(api, "test/stubborn", seconds=0.4)
        wait_for_status(api, job_id, "processing")
        assert api.delete(f"/jobs/{job_id}").status_code == 200
        # the one worker runs the next job only once the stubborn function has returned
        assert server.wait_for_job(push(api, "test/kinds", text="next"))["status"] == "finished"
        job = api.get(f"/jobs/{job_id}").json()
    assert job["status"] == "cancelled"
    assert job["outputs"] == []


@pytest.mark.parametrize("function", ["test/kinds", "test/fail"])
def test_cancelling_an_ended_job_is_a_400(api: httpx.Client, server: Any, function: str) -> None:
    inputs = {"text": "a"} if function == "test/kinds" else {"message": "x"}
    job_id = push(api, function, **inputs)
    server.wait_for_job(job_id)
    response = api.delete(f"/jobs/{job_id}")
    assert response.status_code == 400
    assert response.json() == NOT_PROCESSING


def test_cancelling_twice_is_a_400(api: httpx.Client) -> None:
    job_id = push(api, "test/nap", seconds=30)
    assert api.delete(f"/jobs/{job_id}").status_code == 200
    second = api.delete(f"/jobs/{job_id}")
    assert second.status_code == 400
    assert second.json() == NOT_PROCESSING


def test_workers_bound_how_many_jobs_run_at_once(start_local_server: Any) -> None:
    server = start_local_server(plugins=[sample_functions], builtins=(), workers=2)
    with server.client() as api:
        ids = [push(api, "test/nap", seconds=30) for _ in range(3)]
        wait_for_status(api, ids[0], "processing")
        wait_for_status(api, ids[1], "processing")
        assert api.get(f"/jobs/{ids[2]}").json()["status"] == "queued"
        assert api.get("/user/concurrency").json()["num_processing"] == 2
        assert api.delete(f"/jobs/{ids[0]}").status_code == 200
        wait_for_status(api, ids[2], "processing")
        # the freed worker took the third job; still two at once, never three
        assert api.get("/user/concurrency").json()["num_processing"] == 2
        assert api.get(f"/jobs/{ids[1]}").json()["status"] == "processing"
        for job_id in ids[1:]:
            api.delete(f"/jobs/{job_id}")


# files ------------------------------------------------------------------------------------


def test_a_returned_file_is_stored_and_served_by_url(api: httpx.Client, server: Any) -> None:
    job = server.wait_for_job(push(api, "test/write-text", text="hello file", name="greet.txt"))
    [output] = job["outputs"]
    assert output["type"] == "sieve.File"
    url = output["data"]["url"]
    assert url.startswith(f"{server.url}/v2/files/")
    assert url.endswith("/greet.txt")
    fetched = httpx.get(url)  # no API key: the random token in the URL is the secret
    assert fetched.status_code == 200
    assert fetched.text == "hello file"
    stored = server.backend.files.root / Path(urlparse(url).path).relative_to("/v2/files")
    assert stored.read_text() == "hello file"


def test_file_names_that_need_quoting_survive_the_round_trip(
    api: httpx.Client, server: Any
) -> None:
    name = "my clip #1 ü.txt"
    job = server.wait_for_job(push(api, "test/write-text", text="quoted", name=name))
    url = job["outputs"][0]["data"]["url"]
    assert " " not in url
    assert url.endswith("/my%20clip%20%231%20%C3%BC.txt")
    assert httpx.get(url).text == "quoted"
    chained = server.wait_for_job(push(api, "test/read-text", file={"url": url}))
    assert chained["outputs"][0]["data"]["text"] == "quoted"
    assert chained["outputs"][0]["data"]["path"].endswith(name)


def test_unknown_files_are_404(server: Any) -> None:
    for path in ("/v2/files/" + "0" * 32 + "/x.txt", "/v2/files/not-a-token/x.txt"):
        assert httpx.get(server.url + path).status_code == 404


def test_own_output_urls_are_inputs_without_a_round_trip(api: httpx.Client, server: Any) -> None:
    made = server.wait_for_job(push(api, "test/write-text", text="chained"))
    url = made["outputs"][0]["data"]["url"]
    before = server.backend.stats.requests("GET /files/{token}/{name}")
    job = server.wait_for_job(push(api, "test/read-text", file={"url": url}))
    assert job["outputs"][0]["data"]["text"] == "chained"
    assert job["outputs"][0]["data"]["path"].startswith(str(server.backend.files.root))
    assert server.backend.stats.requests("GET /files/{token}/{name}") == before


def test_file_inputs_from_path_file_url_and_plain_path(
    api: httpx.Client, server: Any, tmp_path: Path
) -> None:
    source = tmp_path / "in put.txt"
    source.write_text("local text")
    for value in ({"path": str(source)}, {"url": source.as_uri()}, {"url": str(source)}):
        job = server.wait_for_job(push(api, "test/read-text", file=value))
        assert job["status"] == "finished", (value, job["error"])
        assert job["outputs"][0]["data"]["text"] == "local text"
        assert job["inputs"]["file"]["data"] == value
        assert job["inputs"]["file"]["type"] == "sieve.File"


def test_file_inputs_are_downloaded_over_http(
    api: httpx.Client, server: Any, tmp_path: Path
) -> None:
    (tmp_path / "remote.txt").write_text("downloaded text")
    files = _serve_folder(tmp_path)
    try:
        url = f"http://127.0.0.1:{files.server_address[1]}/remote.txt"
        job = server.wait_for_job(push(api, "test/read-text", file={"url": url}))
        assert job["status"] == "finished", job["error"]
        assert job["outputs"][0]["data"]["text"] == "downloaded text"
        assert Path(job["outputs"][0]["data"]["path"]).name == "remote.txt"
        missing = server.wait_for_job(
            push(api, "test/read-text", file={"url": url.replace("remote", "missing")})
        )
        assert missing["status"] == "error"
        assert "HTTP 404" in missing["error"]
    finally:
        files.shutdown()
        files.server_close()


def test_a_missing_input_file_is_a_job_error_naming_it(api: httpx.Client, server: Any) -> None:
    job = server.wait_for_job(push(api, "test/read-text", file={"path": "/no/such/file.txt"}))
    assert job["status"] == "error"
    assert "/no/such/file.txt" in job["error"]
    odd = server.wait_for_job(push(api, "test/read-text", file={"url": "s3://bucket/key"}))
    assert "unsupported URL scheme 's3'" in odd["error"]


def test_files_inside_lists_and_dicts_are_stored(
    api: httpx.Client, server: Any, tmp_path: Path
) -> None:
    source = tmp_path / "clip.mp4"
    source.write_bytes(b"\x00\x01fake video")
    job = server.wait_for_job(push(api, "test/bundle", video={"path": str(source)}, copies=2))
    assert job["status"] == "finished", job["error"]
    data = job["outputs"][0]["data"]
    assert data["size"] == len(b"\x00\x01fake video")
    assert data["kind"] == "Video"  # the annotation's File class reached the function
    urls = [copy["url"] for copy in data["copies"]]
    assert len(set(urls)) == 2
    for url in urls:
        assert httpx.get(url).content == b"\x00\x01fake video"


def _serve_folder(folder: Path) -> ThreadingHTTPServer:
    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server
