"""`POST /v2/push` rejects malformed bodies with FastAPI-style 422s, located."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


def problems(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list)
    for item in detail:
        assert {"loc", "msg", "type"} <= set(item)
    return list(detail)


def locs(response: httpx.Response) -> list[list[Any]]:
    return [p["loc"] for p in problems(response)]


def test_unknown_function_is_a_422_at_function_with_a_suggestion(api: httpx.Client) -> None:
    [problem] = problems(api.post("/push", json={"function": "test/kind", "inputs": {}}))
    assert problem["loc"] == ["body", "function"]
    assert "did you mean 'test/kinds'?" in problem["msg"]


def test_unknown_function_id_is_a_422_at_id(api: httpx.Client) -> None:
    assert locs(api.post("/push", json={"id": "nope", "inputs": {}})) == [["body", "id"]]


def test_function_id_and_version_id_both_select_the_function(
    api: httpx.Client, server: Any
) -> None:
    metadata = api.get("/functions/test/kinds").json()
    for identifier in (metadata["id"], metadata["latest_version"]["id"]):
        response = api.post("/push", json={"id": identifier, "inputs": {"text": "x"}})
        assert response.status_code == 200, response.text
        job = server.wait_for_job(response.json()["id"])
        assert job["function"] == {"name": "kinds", "owner_name": "test"}


def test_a_pinned_version_must_be_the_served_one(api: httpx.Client) -> None:
    version = api.get("/functions/test/kinds").json()["latest_version"]["id"]
    ok = api.post("/push", json={"function": f"test/kinds:{version}", "inputs": {"text": "x"}})
    assert ok.status_code == 200
    stale = api.post("/push", json={"function": "test/kinds:0000", "inputs": {"text": "x"}})
    [problem] = problems(stale)
    assert problem["loc"] == ["body", "function"]
    assert version in problem["msg"]


def test_both_function_and_id_is_a_422(api: httpx.Client) -> None:
    body = {"function": "test/kinds", "id": "x", "inputs": {"text": "a"}}
    [problem] = problems(api.post("/push", json=body))
    assert problem["loc"] == ["body"]
    assert "not both" in problem["msg"]


def test_neither_function_nor_id_is_a_422(api: httpx.Client) -> None:
    assert locs(api.post("/push", json={"inputs": {}})) == [["body", "function"]]


def test_missing_inputs_is_a_422(api: httpx.Client) -> None:
    assert locs(api.post("/push", json={"function": "test/kinds"})) == [["body", "inputs"]]


def test_unknown_input_is_a_422_with_a_suggestion(api: httpx.Client) -> None:
    body = {"function": "test/kinds", "inputs": {"text": "a", "cont": 2}}
    [problem] = problems(api.post("/push", json=body))
    assert problem["loc"] == ["body", "inputs", "cont"]
    assert problem["type"] == "extra_forbidden"
    assert "did you mean 'count'?" in problem["msg"]


def test_missing_required_input_is_a_422(api: httpx.Client) -> None:
    [problem] = problems(api.post("/push", json={"function": "test/kinds", "inputs": {}}))
    assert problem["loc"] == ["body", "inputs", "text"]
    assert problem["type"] == "missing"


@pytest.mark.parametrize(
    ("name", "value", "error_type"),
    [
        ("text", 5, "string_type"),
        ("count", "3", "int_type"),
        ("count", 2.5, "int_type"),
        ("count", True, "int_type"),
        ("ratio", "0.5", "float_type"),
        ("flag", "yes", "bool_type"),
        ("flag", 1, "bool_type"),
        ("mode", "medium", "literal_error"),
        ("tags", "a,b", "list_type"),
        ("extra", [1], "dict_type"),
    ],
)
def test_wrong_types_are_422s_at_the_input(
    api: httpx.Client, name: str, value: Any, error_type: str
) -> None:
    body = {"function": "test/kinds", "inputs": {"text": "a", name: value}}
    [problem] = problems(api.post("/push", json=body))
    assert problem["loc"] == ["body", "inputs", name]
    assert problem["type"] == error_type


def test_list_items_are_checked_and_located(api: httpx.Client) -> None:
    body = {"function": "test/kinds", "inputs": {"text": "a", "tags": ["ok", 3]}}
    assert locs(api.post("/push", json=body)) == [["body", "inputs", "tags", 1]]


def test_every_problem_is_reported_at_once(api: httpx.Client) -> None:
    body = {"function": "test/kinds", "inputs": {"count": "x", "mode": "medium", "zz": 1}}
    assert sorted(map(str, locs(api.post("/push", json=body)))) == sorted(
        map(
            str,
            [
                ["body", "inputs", "count"],
                ["body", "inputs", "mode"],
                ["body", "inputs", "zz"],
                ["body", "inputs", "text"],
            ],
        )
    )


def test_an_int_is_a_valid_float_and_arrives_as_one(api: httpx.Client, server: Any) -> None:
    body = {"function": "test/kinds", "inputs": {"text": "a", "ratio": 2}}
    job = server.wait_for_job(api.post("/push", json=body).json()["id"])
    assert job["outputs"][0]["data"]["ratio_type"] == "float"


def test_a_file_input_must_be_a_url_or_path_object(api: httpx.Client) -> None:
    for value in ("/tmp/x.txt", {"uri": "x"}, {"url": 3}, {}):
        body = {"function": "test/read-text", "inputs": {"file": value}}
        [problem] = problems(api.post("/push", json=body))
        assert problem["loc"] == ["body", "inputs", "file"]
        assert problem["type"] == "file_type"


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ([1, 2], ["body"]),
        ({"function": 3, "inputs": {}}, ["body", "function"]),
        ({"function": "test/kinds", "inputs": []}, ["body", "inputs"]),
        ({"function": "test/kinds", "inputs": {"text": "a"}, "webhooks": {}}, ["body", "webhooks"]),
        (
            {"function": "test/kinds", "inputs": {"text": "a"}, "webhooks": [{"type": "job.x",
             "url": "http://127.0.0.1:1/"}]},
            ["body", "webhooks", 0, "type"],
        ),
        (
            {"function": "test/kinds", "inputs": {"text": "a"}, "webhooks": [{"type":
             "job.complete", "url": "ftp://x"}]},
            ["body", "webhooks", 0, "url"],
        ),
        ({"function": "test/kinds", "inputs": {"text": "a"}, "env": "A=1"}, ["body", "env"]),
    ],
)  # fmt: skip
def test_malformed_bodies_are_located(api: httpx.Client, body: Any, loc: list[Any]) -> None:
    assert loc in locs(api.post("/push", json=body))


@pytest.mark.parametrize("raw", [b"", b"{not json", b'{"function": "test/kinds", "x": NaN}'])
def test_a_body_that_is_not_json_is_a_422(api: httpx.Client, raw: bytes) -> None:
    response = api.post("/push", content=raw, headers={"Content-Type": "application/json"})
    [problem] = problems(response)
    assert problem["loc"][0] == "body"


def test_rejected_pushes_create_no_job(api: httpx.Client, server: Any) -> None:
    api.post("/push", json={"function": "test/kinds", "inputs": {}})
    api.post("/push", json={"function": "nobody/nothing", "inputs": {}})
    assert api.get("/jobs").json()["data"] == []
    assert server.backend.stats.pushes == 0
    assert server.backend.stats.requests("POST /push") == 2
