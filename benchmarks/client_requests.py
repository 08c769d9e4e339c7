"""Client throughput and requests per job against the local backend (run by hand).

    python benchmarks/client_requests.py [--jobs 500] [--parallel 32]

Pushes `--jobs` `local/echo` jobs with `SieveClient`, at most `--parallel` at a time, on the
embedded backend (in-process, `httpx.ASGITransport`) and on `sievefile serve`'s app over a real
socket (uvicorn on 127.0.0.1), then waits for all of them by paging `GET /v2/jobs` (one request
reports on many jobs). Prints pushes per second, the wall time until every job finished, and the
HTTP requests the client sent per job (the push plus its share of the list pages).
"""

from __future__ import annotations

import argparse
import asyncio
import time

from runner.client import SieveClient
from runner.local.backend import EMBEDDED_BASE_URL, LocalBackend
from runner.local.server import ServerThread


async def drive(client: SieveClient, jobs: int, parallel: int) -> tuple[float, float]:
    """Push `jobs` echo jobs, wait for them all; (push seconds, total seconds)."""
    started = time.perf_counter()
    gate = asyncio.Semaphore(parallel)

    async def push(index: int) -> str:
        async with gate:
            return str((await client.push("local/echo", {"value": index}))["id"])

    ids = set(await asyncio.gather(*(push(i) for i in range(jobs))))
    pushed = time.perf_counter() - started
    while True:
        pending = {job["id"] async for job in client.iter_jobs("queued", page_size=500)}
        pending |= {job["id"] async for job in client.iter_jobs("processing", page_size=500)}
        if not ids & pending:
            break
        await asyncio.sleep(0.05)
    return pushed, time.perf_counter() - started


def report(label: str, jobs: int, client: SieveClient, pushed: float, total: float) -> None:
    print(
        f"{label:10} {jobs / pushed:8.0f} pushes/s   all finished in {total:6.2f} s   "
        f"{client.request_count / jobs:5.2f} requests/job ({dict(client.requests)})"
    )


async def embedded(jobs: int, parallel: int) -> None:
    async with (
        LocalBackend(workers=4) as backend,
        SieveClient(EMBEDDED_BASE_URL, transport=backend.transport()) as client,
    ):
        pushed, total = await drive(client, jobs, parallel)
        report("embedded", jobs, client, pushed, total)


async def socket(jobs: int, parallel: int) -> None:
    with ServerThread(LocalBackend(workers=4)) as server:
        async with SieveClient(server.url) as client:
            pushed, total = await drive(client, jobs, parallel)
            report("socket", jobs, client, pushed, total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--parallel", type=int, default=32)
    options = parser.parse_args()
    asyncio.run(embedded(options.jobs, options.parallel))
    asyncio.run(socket(options.jobs, options.parallel))


if __name__ == "__main__":
    main()
