"""Every endpoint of the local server and its error paths, over a real socket."""

from __future__ import annotations

import base64
import math
import pickle
from typing import Any

import httpx
import pytest

UNAUTHORIZED = {"detail": "Unauthorized - valid API Key required."}
JOB_NOT_FOUND = {"detail": "Job not found."}


def push(api: httpx.Client, function: str, **inputs: Any) -> dict[str, Any]:
    response = api.post("/push", json={"function": function, "inputs": inputs})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_push_returns_the_live_push_shape(api: httpx.Client, server: Any) -> None:
    body = push(api, "test/kinds", text="a")
    assert set(body) == {
        "id", "run_id", "stream_output", "status", "organization_id", "model_id", "workflow_id"
    }  # fmt: skip
    assert body["status"] == "queued"
    assert body["stream_output"] is False
    assert body["workflow_id"] is None
    function = api.get("/functions/test/kinds").json()
    assert body["model_id"] == function["latest_version"]["id"]


def test_a_finished_job_has_the_live_job_shape(api: httpx.Client, server: Any) -> None:
    job_id = push(api, "test/kinds", text="ab", count=2)["id"]
    job = server.wait_for_job(job_id)
    assert job["status"] == "finished"
    assert job["error"] == ""
    assert job["function"] == {"name": "kinds", "owner_name": "test"}
    assert job["visibility"] == "private"
    for stamp in ("created_at", "started_at", "completed_at"):
        assert job[stamp].endswith("+00:00"), stamp
    assert job["created_at"] <= job["started_at"] <= job["completed_at"]
    assert job["inputs"]["text"] == {
        "type": "str",
        "name": "text",
        "data": "ab",
        "description": "any text",
        "schema": {"type": "string"},
        "run_id": job["run_id"],
    }
    assert set(job["inputs"]) == {"text", "count"}  # only what was pushed
    [output] = job["outputs"]
    assert set(output) == {"type", "name", "data", "description", "schema", "run_id"}
    assert output["type"] == "dict"
    assert output["data"]["text"] == "abab"
    assert output["data"]["ratio"] == 0.5  # the default reached the function


def test_get_job_offset_skips_outputs(api: httpx.Client, server: Any) -> None:
    job_id = push(api, "test/count", n=5)["id"]
    server.wait_for_job(job_id)
    assert [o["data"] for o in api.get(f"/jobs/{job_id}").json()["outputs"]] == [0, 1, 2, 3, 4]
    skipped = api.get(f"/jobs/{job_id}", params={"offset": 3}).json()["outputs"]
    assert [o["data"] for o in skipped] == [3, 4]
    assert api.get(f"/jobs/{job_id}", params={"offset": 9}).json()["outputs"] == []


@pytest.mark.parametrize("offset", ["-1", "x", "1.5", str(2**64)])
def test_get_job_rejects_a_bad_offset(api: httpx.Client, offset: str) -> None:
    job_id = push(api, "test/kinds", text="a")["id"]
    response = api.get(f"/jobs/{job_id}", params={"offset": offset})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "offset"]


def test_unknown_job_is_404_for_get_and_delete(api: httpx.Client) -> None:
    assert api.get("/jobs/no-such-job").status_code == 404
    assert api.get("/jobs/no-such-job").json() == JOB_NOT_FOUND
    response = api.delete("/jobs/no-such-job")
    assert response.status_code == 404
    assert response.json() == JOB_NOT_FOUND


def test_list_jobs_pages_newest_first(api: httpx.Client, server: Any) -> None:
    ids = [push(api, "test/kinds", text=str(i))["id"] for i in range(5)]
    for job_id in ids:
        server.wait_for_job(job_id)
    first = api.get("/jobs", params={"limit": 2}).json()
    assert [j["id"] for j in first["data"]] == ids[::-1][:2]
    assert first["next_offset"] == 2
    second = api.get("/jobs", params={"limit": 2, "offset": 2}).json()
    assert [j["id"] for j in second["data"]] == ids[::-1][2:4]
    last = api.get("/jobs", params={"limit": 2, "offset": 4}).json()
    assert [j["id"] for j in last["data"]] == [ids[0]]
    assert last["next_offset"] == -1
    everything = api.get("/jobs").json()
    assert [j["id"] for j in everything["data"]] == ids[::-1]
    assert everything["next_offset"] == -1


def test_list_items_are_the_jobs_as_get_returns_them(api: httpx.Client, server: Any) -> None:
    # list pages are assembled from the stored JSON text, GET decodes and encodes it
    several = push(api, "test/count", n=3)["id"]
    unicode = push(api, "test/kinds", text='naïve ✓ "quoted"\n')["id"]
    failed = push(api, "test/fail", message="boom")["id"]
    for job_id in (several, unicode, failed):
        server.wait_for_job(job_id)
    response = api.get("/jobs")
    assert response.headers["content-type"] == "application/json"
    listed = {job["id"]: job for job in response.json()["data"]}
    for job_id in (several, unicode, failed):
        assert listed[job_id] == api.get(f"/jobs/{job_id}").json()
    assert [o["data"] for o in listed[several]["outputs"]] == [0, 1, 2]
    assert listed[unicode]["inputs"]["text"]["data"] == 'naïve ✓ "quoted"\n'
    assert listed[unicode]["outputs"][0]["data"]["text"] == 'naïve ✓ "quoted"\n'
    assert listed[failed]["status"] == "error"
    assert "boom" in listed[failed]["error"]


def test_a_value_json_cannot_carry_is_refused_at_push(server: Any) -> None:
    # HTTP bodies cannot carry NaN (refused as they are read); an in-process push can, and it
    # must not be stored where a list page would splice it in as invalid JSON
    before = server.backend.jobs()["data"]
    with pytest.raises(ValueError, match="JSON"):
        server.backend.push({"function": "test/kinds", "inputs": {"text": "a", "ratio": math.nan}})
    assert server.backend.jobs()["data"] == before


def test_list_jobs_filters_by_status(api: httpx.Client, server: Any) -> None:
    done = push(api, "test/kinds", text="x")["id"]
    failed = push(api, "test/fail", message="boom")["id"]
    server.wait_for_job(done)
    server.wait_for_job(failed)
    errors = api.get("/jobs", params={"status": "error"}).json()["data"]
    assert [j["id"] for j in errors] == [failed]
    finished = api.get("/jobs", params={"status": "finished"}).json()["data"]
    assert [j["id"] for j in finished] == [done]
    assert len(api.get("/jobs", params={"status": ""}).json()["data"]) == 2


def test_list_jobs_rejects_an_unknown_status_with_a_suggestion(api: httpx.Client) -> None:
    response = api.get("/jobs", params={"status": "finishd"})
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["query", "status"]
    assert "did you mean 'finished'?" in problem["msg"]


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": "-3"}, "offset"),
        ({"offset": str(10**22)}, "offset"),
        ({"limit": ""}, "limit"),
    ],
)
def test_list_jobs_rejects_bad_paging(api: httpx.Client, params: dict, where: str) -> None:
    response = api.get("/jobs", params=params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", where]


def test_function_metadata_has_the_live_shape(api: httpx.Client) -> None:
    response = api.get("/functions/test/kinds")
    assert response.status_code == 200
    function = response.json()
    assert function["name"] == "kinds"
    assert function["owner_name"] == "test"
    assert function["function_type"] == "function"
    assert function["description"].startswith("Return every input, so a test sees what")
    for key in ("visibility", "title", "tags", "readme"):
        assert key in function
    version = function["latest_version"]
    assert version["build_status"] == "ready"
    assert version["environment_variables"] == []
    assert version["stream_output"] is False
    by_name = {item["name"]: item for item in version["inputs"]}
    assert list(by_name) == ["text", "count", "ratio", "flag", "mode", "tags", "extra"]
    # A Literal as the official SDK uploads it; defaults pickled as the live service sends them.
    assert by_name["mode"]["type"] == "Literal"
    assert by_name["mode"]["schema"] == {"options": ["fast", "slow"]}
    assert base64.b64decode(by_name["count"]["data"]) == pickle.dumps(1, protocol=5)
    assert by_name["text"]["data"] is None
    assert by_name["count"]["is_optional"] is True
    assert by_name["text"]["is_optional"] is False
    [output] = version["outputs"]
    assert output["type"] == "dict"
    assert output["description"] == "the inputs, with `text` repeated"
    assert api.get("/functions/test/count").json()["latest_version"]["stream_output"] is True


def test_unknown_function_is_404(api: httpx.Client) -> None:
    response = api.get("/functions/test/nope")
    assert response.status_code == 404
    assert response.json() == {"detail": "Function not found."}


def test_every_endpoint_needs_the_key(server: Any) -> None:
    job_id = None
    with server.client() as good:
        job_id = push(good, "test/kinds", text="a")["id"]
    requests = [
        ("POST", "/push", {"function": "test/kinds", "inputs": {"text": "a"}}),
        ("GET", "/jobs", None),
        ("GET", f"/jobs/{job_id}", None),
        ("DELETE", f"/jobs/{job_id}", None),
        ("GET", "/functions/test/kinds", None),
        ("GET", "/_stats", None),
    ]
    for headers in ({}, {"X-API-Key": "wrong"}):
        with httpx.Client(base_url=f"{server.url}/v2", headers=headers) as client:
            for method, path, body in requests:
                response = client.request(method, path, json=body)
                assert response.status_code == 401, (method, path)
                assert response.json() == UNAUTHORIZED
    assert server.backend.stats.pushes == 1  # the unauthorized push created nothing


def test_the_key_header_is_case_insensitive(server: Any) -> None:
    with httpx.Client(base_url=f"{server.url}/v2", headers={"x-api-key": server.api_key}) as c:
        assert c.get("/jobs").status_code == 200


def test_without_a_configured_key_no_key_is_needed(start_local_server: Any) -> None:
    import sample_functions

    open_server = start_local_server(plugins=[sample_functions], builtins=(), api_key=None)
    response = httpx.get(f"{open_server.url}/v2/jobs")
    assert response.status_code == 200
    assert response.json() == {"data": [], "next_offset": -1}


def test_unknown_routes_answer_json(api: httpx.Client) -> None:
    response = api.get("/nothing-here")
    assert response.status_code == 404
    assert "detail" in response.json()


def test_stats_count_pushes_and_requests_per_job(api: httpx.Client, server: Any) -> None:
    job_id = push(api, "test/kinds", text="a")["id"]
    server.wait_for_job(job_id)  # polls GET /jobs/{id} at least once
    before = server.backend.stats.job_requests(job_id)["GET"]
    api.get(f"/jobs/{job_id}")
    api.get(f"/jobs/{job_id}")
    api.delete(f"/jobs/{job_id}")  # 400: it has finished, but still a request about it
    stats = api.get("/_stats").json()
    assert stats["pushes"] == 1
    assert stats["jobs"][job_id] == {"PUSH": 1, "GET": before + 2, "DELETE": 1}
    assert stats["requests"]["POST /push"] == 1
    assert stats["requests"]["GET /_stats"] == 1
    assert server.backend.stats.requests("DELETE /jobs/{job_id}") == 1


def test_unknown_query_parameters_are_ignored_like_the_live_service(
    api: httpx.Client, server: Any
) -> None:
    pushed = api.post("/push?x=1", json={"function": "test/kinds", "inputs": {"text": "a"}})
    assert pushed.status_code == 200
    job_id = pushed.json()["id"]
    server.wait_for_job(job_id)
    assert api.get(f"/jobs/{job_id}", params={"limit": 3}).status_code == 200
    listed = api.get("/jobs", params={"stauts": "error"}).json()["data"]
    assert [job["id"] for job in listed] == [job_id]


def test_a_405_lists_every_method_of_the_path(api: httpx.Client) -> None:
    response = api.put("/jobs/some-id")
    assert response.status_code == 405
    assert set(response.headers["allow"].replace(" ", "").split(",")) >= {"GET", "DELETE"}


def test_the_shared_fixture_serves_the_built_in_plugins(local_server: Any) -> None:
    from runner.local.registry import build_registry
    from runner.plugins import DEFAULT_PLUGINS, build_plugin_manager

    expected = build_registry(build_plugin_manager(DEFAULT_PLUGINS, load_entry_points=False))
    assert local_server.backend.registry.names() == expected.names()
    assert local_server.api_key
    assert httpx.get(f"{local_server.url}/v2/jobs").status_code == 401
    with local_server.client() as client:
        assert client.get("/jobs").json() == {"data": [], "next_offset": -1}
        for name in expected.names():
            assert client.get(f"/functions/{name}").status_code == 200
