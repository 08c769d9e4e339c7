"""Webhooks from the local server to a real receiver on 127.0.0.1."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import sample_functions

from tests.support.waiting import wait_until

ALL_EVENTS = ["job.start", "job.new_output", "job.complete", "job.complete.no_output"]


def push_with_hooks(
    api: httpx.Client, receiver: Any, function: str, events: list[str], **inputs: Any
) -> str:
    hooks = [{"type": event, "url": f"{receiver.url}/{event}"} for event in events]
    body = {"function": function, "inputs": inputs, "webhooks": hooks}
    response = api.post("/push", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def test_every_event_is_delivered_with_the_live_payloads(
    api: httpx.Client, server: Any, webhook_receiver: Any
) -> None:
    job_id = push_with_hooks(api, webhook_receiver, "test/count", ALL_EVENTS, n=2)
    job = server.wait_for_job(job_id)
    received = webhook_receiver.wait_for(lambda got: len(got) == 5)
    by_type: dict[str, list[Any]] = {}
    for hook in received:
        assert hook.path == f"/{hook.body['type']}"  # each went to its own subscription
        by_type.setdefault(hook.body["type"], []).append(hook.body)
    assert sorted((t, len(v)) for t, v in by_type.items()) == [
        ("job.complete", 1),
        ("job.complete.no_output", 1),
        ("job.new_output", 2),
        ("job.start", 1),
    ]
    [start] = by_type["job.start"]
    assert start["body"]["job_id"] == job_id
    assert start["body"]["status"] == "processing"
    assert set(start["body"]) == {"job_id", "status", "error", "outputs"}
    outputs = sorted(hook["body"]["output"]["data"] for hook in by_type["job.new_output"])
    assert outputs == [0, 1]
    assert all(set(h["body"]) == {"job_id", "output"} for h in by_type["job.new_output"])
    [complete] = by_type["job.complete"]
    assert complete["body"] == {
        "job_id": job_id,
        "status": "finished",
        "error": "",
        "outputs": job["outputs"],
    }
    [no_output] = by_type["job.complete.no_output"]
    assert no_output["body"] == {"job_id": job_id, "status": "finished", "error": ""}


def test_only_subscribed_events_are_sent(
    api: httpx.Client, server: Any, webhook_receiver: Any
) -> None:
    job_id = push_with_hooks(api, webhook_receiver, "test/fail", ["job.complete"], message="x")
    server.wait_for_job(job_id)
    [hook] = webhook_receiver.wait_for(lambda got: len(got) >= 1)
    assert hook.body["body"]["status"] == "error"
    assert hook.body["body"]["error"] == "RuntimeError: x"
    assert server.backend.webhooks.drain(10)  # everything it will ever send was sent
    assert len(webhook_receiver.received) == 1


def test_a_cancelled_job_sends_complete(
    api: httpx.Client, server: Any, webhook_receiver: Any
) -> None:
    job_id = push_with_hooks(api, webhook_receiver, "test/nap", ["job.complete"], seconds=30)
    assert api.delete(f"/jobs/{job_id}").status_code == 200
    [hook] = webhook_receiver.wait_for(lambda got: len(got) >= 1)
    assert hook.body["body"]["status"] == "cancelled"


def test_failed_deliveries_are_retried_until_a_2xx(
    api: httpx.Client, server: Any, webhook_receiver: Any
) -> None:
    webhook_receiver.fail_first(3)
    job_id = push_with_hooks(api, webhook_receiver, "test/kinds", ["job.complete"], text="a")
    [hook] = webhook_receiver.wait_for(lambda got: len(got) == 1)
    assert hook.body["body"]["job_id"] == job_id
    assert webhook_receiver.attempts == 4
    assert server.backend.webhooks.drain(5)
    assert server.backend.webhooks.stats.delivered == 1
    assert server.backend.webhooks.stats.attempts == 4


def test_delivery_gives_up_after_ten_attempts(
    start_local_server: Any, webhook_receiver: Any
) -> None:
    server = start_local_server(plugins=[sample_functions], builtins=(), webhook_backoff=0.001)
    webhook_receiver.fail_first(100)
    with server.client() as api:
        push_with_hooks(api, webhook_receiver, "test/kinds", ["job.complete"], text="a")
    stats = server.backend.webhooks.stats
    wait_until(lambda: stats.failed >= 1, what="the sender to give up")
    assert server.backend.webhooks.drain(10)  # and nothing more is on its way
    assert webhook_receiver.attempts == 10
    assert webhook_receiver.received == []


def test_an_unreachable_receiver_never_blocks_workers(start_local_server: Any) -> None:
    server = start_local_server(plugins=[sample_functions], builtins=(), workers=1)
    dead = "http://127.0.0.1:9/"  # the discard port: nothing listens there
    with server.client() as api:
        hooks = [{"type": event, "url": dead} for event in ALL_EVENTS]
        for text in ("a", "b", "c"):
            body = {"function": "test/kinds", "inputs": {"text": text}, "webhooks": hooks}
            job_id = api.post("/push", json=body).json()["id"]
            assert server.wait_for_job(job_id, timeout=5)["status"] == "finished"


@pytest.mark.parametrize("backoff", [0.01])
def test_backoff_doubles_between_attempts(backoff: float, webhook_receiver: Any) -> None:
    from runner.local.webhooks import WebhookSender

    sender = WebhookSender(backoff=backoff, max_attempts=4)
    sender.start()
    try:
        webhook_receiver.fail_first(3)
        sender.send(f"{webhook_receiver.url}/x", {"type": "job.complete", "body": {}})
        webhook_receiver.wait_for(lambda got: len(got) == 1)
        # waits of 0.01, 0.02 and 0.04 s between the four attempts
        assert sender.stats.backoffs == [backoff, backoff * 2, backoff * 4]
        assert sender.drain(5)
        assert sender.stats.attempts == 4
        assert sender.stats.delivered == 1
    finally:
        sender.close()


def test_one_job_s_events_to_one_url_arrive_in_order_despite_retries(
    api: httpx.Client, server: Any, webhook_receiver: Any
) -> None:
    webhook_receiver.fail_first(3)  # job.start is retried three times
    hooks = [{"type": event, "url": f"{webhook_receiver.url}/all"} for event in ALL_EVENTS]
    body = {"function": "test/count", "inputs": {"n": 3}, "webhooks": hooks}
    job_id = api.post("/push", json=body).json()["id"]
    server.wait_for_job(job_id)
    received = webhook_receiver.wait_for(lambda got: len(got) == 6)
    assert [hook.body["type"] for hook in received] == [
        "job.start",
        "job.new_output",
        "job.new_output",
        "job.new_output",
        "job.complete",
        "job.complete.no_output",
    ]
    assert [hook.body["body"]["output"]["data"] for hook in received[1:4]] == [0, 1, 2]
    assert webhook_receiver.attempts == 9


def test_a_slow_chain_does_not_hold_up_other_jobs(webhook_receiver: Any) -> None:
    from runner.local.webhooks import WebhookSender

    sender = WebhookSender(backoff=0.5, max_attempts=3)
    sender.start()
    try:
        webhook_receiver.fail_first(1)  # job a's first event now waits 0.5 s for its retry
        sender.send(f"{webhook_receiver.url}/a", {"n": "a1"}, order_key="a")
        wait_until(lambda: webhook_receiver.attempts >= 1, what="a first attempt", interval=0.005)
        sender.send(f"{webhook_receiver.url}/a", {"n": "a2"}, order_key="a")
        sender.send(f"{webhook_receiver.url}/b", {"n": "b1"}, order_key="b")
        got = webhook_receiver.wait_for(lambda got: len(got) == 3)
        assert [hook.body["n"] for hook in got] == ["b1", "a1", "a2"]
        assert sender.drain(5)
    finally:
        sender.close()
