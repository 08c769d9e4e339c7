"""The watchers: few requests for many jobs, an interval that adapts, no polling when embedded."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from runner.client import SieveClient
from runner.execute.watch import EventWatcher, ListWatcher


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _push_naps(client: SieveClient, seconds: list[float]) -> Any:
    return asyncio.gather(
        *(client.push("exec/nap", {"seconds": s, "value": i}) for i, s in enumerate(seconds))
    )


def test_list_watcher_reports_every_job_with_few_list_requests(exec_server) -> None:
    intervals: list[float] = []

    async def quick_sleep(seconds: float) -> None:
        intervals.append(seconds)
        await asyncio.sleep(0.05)  # real time passes, much less than asked

    async def scenario() -> tuple[list[dict[str, Any]], int]:
        async with SieveClient(exec_server.url, exec_server.api_key) as client:
            pushed = await _push_naps(client, [0.2] * 8)
            watcher = ListWatcher(client, sleep=quick_sleep)
            finals = await asyncio.gather(*(watcher.wait(job["id"]) for job in pushed))
            await watcher.aclose()
            return finals, client.requests["list_jobs"]

    finals, list_requests = asyncio.run(scenario())
    assert [job["status"] for job in finals] == ["finished"] * 8
    assert sorted(job["outputs"][0]["data"] for job in finals) == list(range(8))
    stats = exec_server.backend.stats
    # fetched once when it left the lists; a second time only if it moved from queued to
    # processing between the two list requests of one poll
    assert all(1 <= stats.job_requests(job["id"]).get("GET", 0) <= 2 for job in finals)
    assert list_requests <= 2 * len(intervals)
    # quiet polls back off by half each time, from the first interval
    assert intervals[:2] == [0.5, 0.75]


def test_interval_aims_at_a_quarter_of_the_jobs_in_flight_ending() -> None:
    clock = FakeClock()
    watcher = ListWatcher(None, clock=clock, min_interval=0.25, max_interval=10.0)  # type: ignore[arg-type]
    assert watcher.next_interval() == 0.5  # nothing has ended yet
    for _ in range(11):  # a job ended every 0.1 s, the last one 0.1 s ago
        watcher._ended_at.append(clock.now)
        clock.now += 0.1
    rate = 10 / 1.1  # endings per second, from the first one until now
    loop = asyncio.new_event_loop()
    try:
        for index in range(80):
            watcher._waiters[f"job-{index}"] = loop.create_future()
        assert watcher.next_interval() == pytest.approx(80 / 4 / rate)  # when 20 have ended
        for index in range(75):
            del watcher._waiters[f"job-{index}"]
        assert watcher.next_interval() == 0.25  # 5 in flight: one ending is 0.1 s away
        clock.now += 3600  # nothing ended for an hour: the rate says "slow"
        assert watcher.next_interval() == 10.0
    finally:
        loop.close()


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
