"""The watchers: outputs harvested from list pages, a schedule from expected end times, the long
poll where the backend has it, webhook hints confirmed against the job, no polling embedded."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import pytest

from runner.client import SieveClient
from runner.execute.watch import EventWatcher, ListWatcher
from tests.support.faultproxy import FaultProxy, Respond, Transform


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _push_naps(client: SieveClient, seconds: list[float]) -> Any:
    return asyncio.gather(
        *(client.push("exec/nap", {"seconds": s, "value": i}) for i, s in enumerate(seconds))
    )


async def _quick_sleep(seconds: float) -> None:
    await asyncio.sleep(min(seconds, 0.05))  # real time passes, never much


def _watch_all(url: str, key: str | None, seconds: list[float], **options: Any) -> Any:
    """Push naps through `url`, wait for them all with a ListWatcher; finals and counters."""

    async def scenario() -> tuple[list[dict[str, Any]], dict[str, int]]:
        async with SieveClient(url, key) as client:
            pushed = await _push_naps(client, seconds)
            watcher = ListWatcher(client, sleep=_quick_sleep, **options)
            finals = await asyncio.gather(*(watcher.wait(job["id"], "exec/nap") for job in pushed))
            await watcher.aclose()
            return finals, {**client.requests, "polls": watcher.polls}

    return asyncio.run(scenario())


def test_outputs_come_from_the_list_pages_without_a_get_per_job(exec_server) -> None:
    finals, requests = _watch_all(exec_server.url, exec_server.api_key, [0.2] * 12, await_max=0)
    assert [job["status"] for job in finals] == ["finished"] * 12
    assert sorted(job["outputs"][0]["data"] for job in finals) == list(range(12))
    stats = exec_server.backend.stats
    assert stats.requests("GET /jobs/{job_id}") == 0
    assert requests.get("get_job", 0) == 0
    assert 1 <= requests["list_jobs"] < 12  # one request reports on many jobs


def test_jobs_seen_ended_together_are_handed_over_oldest_push_first(exec_server) -> None:
    # The list is newest first; handing its ends over in that order put the same chains last
    # out of every burst of ends, and they fell further behind at each link.
    async def scenario() -> tuple[list[str], list[str]]:
        async with SieveClient(exec_server.url, exec_server.api_key) as client:
            pushed = [await client.push("exec/nap", {"seconds": 0, "value": i}) for i in range(6)]
            ids = [job["id"] for job in pushed]
            await asyncio.sleep(0.3)  # all have ended: one list answer shows them together
            watcher = ListWatcher(client, sleep=_quick_sleep, await_max=0)
            handed: list[str] = []

            async def wait(job_id: str) -> None:
                await watcher.wait(job_id, "exec/nap")
                handed.append(job_id)

            await asyncio.gather(*(wait(job_id) for job_id in ids))  # watched as pushed
            await watcher.aclose()
            assert watcher.polls == 1
            return ids, handed

    pushed, handed = asyncio.run(scenario())
    assert handed == pushed


def test_items_without_outputs_are_fetched_once_each(exec_server) -> None:
    def strip_outputs(body: dict[str, Any]) -> dict[str, Any]:
        for job in body["data"]:
            job.pop("outputs", None)
            job["vendor_field"] = {"nested": [1, 2]}  # extra fields are ignored
        return body

    with FaultProxy(exec_server.url) as proxy:
        proxy.add_fault(
            Transform(body=strip_outputs), method="GET", path="/v2/jobs", exact=True, times=10**6
        )
        finals, _requests = _watch_all(proxy.url, exec_server.api_key, [0.1] * 6, await_max=0)
    assert sorted(job["outputs"][0]["data"] for job in finals) == list(range(6))
    stats = exec_server.backend.stats
    for job in finals:
        assert stats.job_requests(job["id"]).get("GET", 0) == 1


def test_small_pages_in_another_order_still_find_every_job(exec_server) -> None:
    def reverse(body: dict[str, Any]) -> dict[str, Any]:
        body["data"].reverse()
        return body

    with FaultProxy(exec_server.url) as proxy:
        proxy.add_fault(Transform({"limit": "2"}, body=reverse), method="GET", times=10**6)
        finals, _requests = _watch_all(
            proxy.url, exec_server.api_key, [0.1, 0.3, 0.0, 0.2, 0.1], await_max=0
        )
    assert sorted(job["outputs"][0]["data"] for job in finals) == [0, 1, 2, 3, 4]
    assert all(job["status"] == "finished" for job in finals)


def test_a_long_history_is_not_scanned(exec_server) -> None:
    async def history() -> None:
        async with SieveClient(exec_server.url, exec_server.api_key) as client:
            await asyncio.gather(
                *(client.push("exec/nap", {"seconds": 0, "value": i}) for i in range(400))
            )

    asyncio.run(history())
    with FaultProxy(exec_server.url) as proxy:
        # pages of 50: reading the whole history would take 9 requests per poll
        proxy.add_fault(Transform({"limit": "50"}), path="/v2/jobs", exact=True, times=10**6)
        finals, requests = _watch_all(proxy.url, exec_server.api_key, [0.3] * 3, await_max=0)
    assert [job["status"] for job in finals] == ["finished"] * 3
    # Three watched jobs: a poll reads a hundred-odd newest items at most (3 pages).
    assert requests["list_jobs"] <= 3 * requests["polls"]
    stats = exec_server.backend.stats
    assert all(stats.job_requests(job["id"]).get("GET", 0) == 0 for job in finals)


def test_a_job_beyond_the_scan_is_fetched_by_itself(exec_server) -> None:
    async def scenario() -> dict[str, Any]:
        async with SieveClient(exec_server.url, exec_server.api_key) as client:
            old = await client.push("exec/nap", {"seconds": 0.6, "value": "old"})
            # Newer jobs by somebody else bury it deeper than the watcher's scan goes.
            await asyncio.gather(
                *(client.push("exec/nap", {"seconds": 0, "value": i}) for i in range(150))
            )
            watcher = ListWatcher(client, sleep=_quick_sleep, await_max=0)
            final = await watcher.wait(old["id"], "exec/nap")
            await watcher.aclose()
            return final

    final = asyncio.run(scenario())
    assert final["status"] == "finished"
    assert final["outputs"][0]["data"] == "old"
    assert exec_server.backend.stats.job_requests(final["id"]).get("GET", 0) >= 1


def test_the_schedule_aims_at_expected_ends() -> None:
    clock, wall = FakeClock(), FakeClock()
    wall.now = 1_700_000_000.0  # the service's clock and ours agree
    watcher = ListWatcher(
        None,  # type: ignore[arg-type]
        clock=clock,
        wall=wall,
        min_interval=0.02,
        max_interval=10.0,
        age_fraction=0.05,
        min_age_interval=0.05,
    )
    assert watcher.expected_duration("me/f") is None
    # Run times of me/f so far (the service's started_at -> completed_at): 0.6 s and longer.
    for seconds in (0.6, 0.6, 0.7, 0.9, 2.0):
        watcher._durations.setdefault("me/f", deque()).append(seconds)
    assert watcher.expected_duration("me/f") == 0.6  # the 25th percentile
    loop = asyncio.new_event_loop()
    try:
        start = clock.now
        watcher._last_poll = watcher._last_answered = start
        # Pushed at `start`: its poll leaves one run time later (it takes the push's way in).
        a = _watched(loop, "me/f", start, None)
        a.due = watcher._aim(a)
        assert a.due == pytest.approx(start + 0.6 + 0.005)
        watcher._watched["a"] = a
        assert watcher.next_poll_at() == pytest.approx(start + 0.605)
        # A list showed it created 30 ms after the push left (the way in) and started 0.1 s
        # later (it queued): aimed at its start plus the run time, less the way in.
        watcher._learn_times("a", {"created_at": _iso(wall.now + 0.03)})
        watcher._learn_times("a", {"started_at": _iso(wall.now + 0.13)})
        assert a.due == pytest.approx(start + 0.13 + 0.6 - 0.03 + 0.005)
        # A job of a function with no history yet: looked for after a fraction of its age.
        watcher._watched["b"] = _watched(loop, "me/g", start - 10.0, None)
        assert watcher.next_poll_at() == pytest.approx(start + 0.05 * 10.0)
        del watcher._watched["b"]
        # A poll that left after its expected end has not answered: no new poll for it yet.
        clock.now = watcher._last_poll = start + 0.8
        assert watcher.next_poll_at() == pytest.approx(start + 10.8)
        # It answered without the job ending: late, so a fraction of its age again (at least
        # min_age_interval).
        watcher._last_answered = watcher._last_poll
        assert watcher.next_poll_at() == pytest.approx(start + 0.8 + 0.05)
        # A poll saw it still queued: it cannot end before a whole run time from then.
        a.started = None
        watcher._saw_queued("a", start + 0.8)
        assert a.due == pytest.approx(start + 0.8 + 0.6)
        # Nothing about to end (an hour-long job): the next poll is max_interval away.
        a.due = start + 3600
        assert watcher.next_poll_at() == pytest.approx(start + 10.8)
        # A hint means now.
        watcher._hints.add("a")
        assert watcher.next_poll_at() == clock.now
    finally:
        loop.close()


def test_a_poll_of_many_pages_leaves_as_much_less_often() -> None:
    clock = FakeClock()
    watcher = ListWatcher(
        None,  # type: ignore[arg-type]
        clock=clock,
        min_interval=0.02,
        max_interval=10.0,
        age_fraction=0.05,
        min_age_interval=0.05,
    )
    loop = asyncio.new_event_loop()
    try:
        watcher._last_poll = watcher._last_answered = clock.now
        # 10,000 jobs of a function with no history, the youngest 20 s old
        for index in range(10_000):
            watcher._watched[str(index)] = _watched(loop, "me/f", clock.now - 20.0 - index, None)
        assert watcher.next_poll_at() == pytest.approx(clock.now + 0.05 * 20.0)  # one page
        watcher._pages = 20  # the last poll read 20 pages of 500
        assert watcher.next_poll_at() == pytest.approx(clock.now + 10.0)  # 20 x 5 % of 20 s: capped
        # an expected end still brings the poll forward, but never closer than 20 x 0.02 s
        watcher._watched["0"].due = clock.now + 0.1
        assert watcher.next_poll_at() == pytest.approx(clock.now + 0.4)
    finally:
        loop.close()


def _iso(epoch: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(epoch, timezone.utc).isoformat()


def _watched(loop: asyncio.AbstractEventLoop, function: str, since: float, due: Any) -> Any:
    from runner.execute.watch import _Watched

    return _Watched(loop.create_future(), function, 0, since, due)


def test_few_jobs_are_awaited_with_the_long_poll(exec_server) -> None:
    finals, requests = _watch_all(exec_server.url, exec_server.api_key, [0.3, 0.1])
    assert sorted(job["outputs"][0]["data"] for job in finals) == [0, 1]
    assert requests["await_job"] == 2
    assert requests.get("get_job", 0) == 0
    # the list only until both were seen running (for the progress view and the ledger)
    assert 1 <= requests.get("list_jobs", 0) <= 3
    assert exec_server.backend.stats.requests("GET /jobs/{job_id}/await") == 2


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, {"detail": "Not Found"}),
        (405, {"detail": "Method Not Allowed"}),
        # a server that is not FastAPI: before its first answer, any 404 means no /await
        (404, "404 page not found"),
    ],
)
def test_a_backend_without_the_long_poll_is_polled_quietly(
    exec_server, status: int, body: Any
) -> None:
    with FaultProxy(exec_server.url) as proxy:
        proxy.add_fault(Respond(status, body), path_end="/await", times=10**6)
        finals, requests = _watch_all(proxy.url, exec_server.api_key, [0.2, 0.1, 0.3])
        awaits = [seen for seen in proxy.log if seen.path.endswith("/await")]
    assert sorted(job["outputs"][0]["data"] for job in finals) == [0, 1, 2]
    # Tried once per job pushed before the answer came back, never after it.
    assert 1 <= len(awaits) <= 3
    assert requests["list_jobs"] >= 1


def test_a_hint_polls_at_once_and_is_confirmed_against_the_job(exec_server) -> None:
    async def scenario() -> tuple[dict[str, Any], bool, int]:
        async with SieveClient(exec_server.url, exec_server.api_key) as client:
            long, short = await _push_naps(client, [30.0, 0.05])
            watcher = ListWatcher(client, hinted=True, await_max=0)
            long_wait = asyncio.create_task(watcher.wait(long["id"], "exec/nap"))
            short_wait = asyncio.create_task(watcher.wait(short["id"], "exec/nap"))
            await asyncio.sleep(0.3)
            polls_before = watcher.polls
            watcher.hint(short["id"])  # true: it ended
            watcher.hint(long["id"])  # a lie (webhooks are unsigned): it runs on
            final = await asyncio.wait_for(short_wait, 5)
            await asyncio.sleep(0.2)
            still_running = not long_wait.done()
            await watcher.aclose()
            await client.cancel_job(long["id"])
            return final, still_running, watcher.polls - polls_before

    final, still_running, polls = asyncio.run(scenario())
    assert final["status"] == "finished"
    assert final["outputs"][0]["data"] == 1
    assert still_running
    assert polls >= 1


def test_a_hinted_job_below_newer_pushes_is_confirmed_in_one_request(exec_server) -> None:
    # A confirming poll's first page was sized by the jobs sought (one hint: 51 items); the
    # 120 pushes after the hinted job had moved it below that, so every confirmation took a
    # second round trip.
    async def scenario() -> tuple[dict[str, Any], int, int]:
        async with SieveClient(exec_server.url, exec_server.api_key) as client:
            [short] = await _push_naps(client, [0.05])
            longs = await _push_naps(client, [30.0] * 120)
            watcher = ListWatcher(client, hinted=True, await_max=0)
            short_wait = asyncio.create_task(watcher.wait(short["id"], "exec/nap"))
            long_waits = [asyncio.create_task(watcher.wait(j["id"], "exec/nap")) for j in longs]
            await asyncio.sleep(0.3)
            polls, pages = watcher.polls, client.requests["list_jobs"]
            watcher.hint(short["id"])
            final = await asyncio.wait_for(short_wait, 5)
            polls, pages = watcher.polls - polls, client.requests["list_jobs"] - pages
            await watcher.aclose()
            await asyncio.gather(*long_waits, return_exceptions=True)
            await asyncio.gather(*(client.cancel_job(job["id"]) for job in longs))
            return final, polls, pages

    final, polls, pages = asyncio.run(scenario())
    assert final["status"] == "finished"
    assert polls == 1
    assert pages == 1


def test_a_hint_about_a_job_no_longer_watched_is_ignored(exec_server) -> None:
    # A poll that fails every waiter leaves the hints that came while it was out; the next
    # hints-only poll must look only for the jobs still watched.
    async def scenario() -> dict[str, Any]:
        async with SieveClient(exec_server.url, exec_server.api_key) as client:
            [job] = await _push_naps(client, [0.05])
            watcher = ListWatcher(client, hinted=True, await_max=0)
            waiting = asyncio.create_task(watcher.wait(job["id"], "exec/nap"))
            await asyncio.sleep(0.2)
            watcher._hints.add("a-job-of-a-failed-poll")
            watcher.hint(job["id"])
            final = await asyncio.wait_for(waiting, 5)
            await watcher.aclose()
            return final

    assert asyncio.run(scenario())["status"] == "finished"


def test_event_watcher_needs_no_requests(start_local_server) -> None:
    server = start_local_server(plugins=["exec_functions"])

    async def scenario() -> list[dict[str, Any]]:
        async with SieveClient(server.url, server.api_key) as client:
            watcher = EventWatcher(server.backend)
            pushed = await _push_naps(client, [0.1, 0.0, 0.3])
            finals = await asyncio.gather(*(watcher.wait(job["id"]) for job in pushed))
            await watcher.aclose()
            return finals

    finals = asyncio.run(scenario())
    assert [job["outputs"][0]["data"] for job in finals] == [0, 1, 2]
    stats = server.backend.stats
    assert stats.requests("GET /jobs") == 0
    assert all("GET" not in stats.job_requests(job["id"]) for job in finals)


def test_the_local_long_poll_answers_when_the_job_ends(exec_server) -> None:
    with exec_server.client(timeout=10) as client:
        job = client.post(
            "/push", json={"function": "exec/nap", "inputs": {"seconds": 0.2, "value": 7}}
        ).json()
        ended = client.get(f"/jobs/{job['id']}/await").raise_for_status().json()
        assert ended["status"] == "finished"
        assert ended["outputs"][0]["data"] == 7
        missing = client.get("/jobs/nope/await")
        assert missing.status_code == 404
        assert missing.json() == {"detail": "Job not found."}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda job: {**job, "status": "zombie"}, "status 'zombie', which sievefile does not know"),
        (lambda job: {**job, "outputs": "abc"}, "outputs are not a list of objects"),
    ],
    ids=["unknown-status", "outputs-wrong-type"],
)
def test_one_unusable_list_item_fails_its_job_alone(exec_server, change: Any, message: str) -> None:
    def hostile(body: dict[str, Any]) -> dict[str, Any]:
        data = body["data"]
        body["data"] = [change(job) if _value(job) == 1 else job for job in data]
        return body

    async def scenario() -> list[Any]:
        async with SieveClient(proxy.url, exec_server.api_key) as client:
            pushed = await _push_naps(client, [0.05, 0.05, 0.05])
            watcher = ListWatcher(client, sleep=_quick_sleep, await_max=0)
            results = await asyncio.gather(
                *(watcher.wait(job["id"], "exec/nap") for job in pushed), return_exceptions=True
            )
            await watcher.aclose()
            return results

    with FaultProxy(exec_server.url) as proxy:
        proxy.add_fault(Transform(body=hostile), path="/v2/jobs", exact=True, times=10**6)
        first, second, third = asyncio.run(scenario())
    assert first["outputs"][0]["data"] == 0
    assert third["outputs"][0]["data"] == 2
    assert isinstance(second, Exception)
    assert message in str(second)


def _value(job: dict[str, Any]) -> Any:
    inputs = job.get("inputs") or {}
    return (inputs.get("value") or {}).get("data")
