"""Local backend throughput and latency, run by hand: `python benchmarks/local_server.py`.

Measures, with a no-op local function so the backend's own cost is what shows:

1. pushes per second over HTTP (uvicorn on 127.0.0.1, one keep-alive httpx client);
2. jobs per second end to end (push, run on N workers, finished), served and embedded
   (the embedded run learns of completions through a listener, without polling);
3. `GET /v2/jobs?limit=500` latency with thousands of jobs stored;
4. the process's peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import threading
import time

import httpx

from runner.local import EMBEDDED_BASE_URL, LocalBackend, ServerThread
from runner.local.registry import FunctionRegistry


def noop(value: int = 0) -> int:
    """Return `value`."""
    return value


def registry() -> FunctionRegistry:
    functions = FunctionRegistry()
    functions.register(noop, name="bench/noop")
    return functions


def served(jobs: int, workers: int) -> None:
    backend = LocalBackend(registry=registry(), workers=workers, api_key="bench")
    server = ServerThread(backend).start()
    headers = {"X-API-Key": "bench"}
    try:
        with httpx.Client(base_url=f"{server.url}/v2", headers=headers) as api:
            finished = threading.Semaphore(0)
            backend.add_listener(
                lambda job: finished.release() if job["status"] == "finished" else None
            )
            started = time.perf_counter()
            for index in range(jobs):
                api.post("/push", json={"function": "bench/noop", "inputs": {"value": index}})
            pushed = time.perf_counter() - started
            for _ in range(jobs):
                finished.acquire()
            done = time.perf_counter() - started
            print(f"served:   {jobs} pushes in {pushed:.2f} s = {jobs / pushed:,.0f} pushes/s")
            print(f"served:   {jobs} jobs finished in {done:.2f} s = {jobs / done:,.0f} jobs/s "
                  f"({workers} workers)")  # fmt: skip
            timings = []
            for _ in range(20):
                tick = time.perf_counter()
                page = api.get("/jobs", params={"limit": 500}).json()
                timings.append(time.perf_counter() - tick)
            assert len(page["data"]) == min(500, jobs)
            print(f"served:   GET /jobs?limit=500 with {jobs} jobs stored: median "
                  f"{statistics.median(timings) * 1000:.1f} ms")  # fmt: skip
            tick = time.perf_counter()
            for _ in range(200):
                api.get(f"/jobs/{page['data'][0]['id']}")
            single = (time.perf_counter() - tick) / 200
            print(f"served:   GET /jobs/{{id}}: {single * 1000:.2f} ms per request")
    finally:
        server.stop()


def embedded(jobs: int, workers: int) -> None:
    async def run() -> None:
        async with LocalBackend(registry=registry(), workers=workers) as backend:
            loop = asyncio.get_running_loop()
            remaining = jobs
            all_done = asyncio.Event()

            def on_change(job: dict) -> None:
                if job["status"] == "finished":
                    loop.call_soon_threadsafe(count_one)

            def count_one() -> None:
                nonlocal remaining
                remaining -= 1
                if remaining == 0:
                    all_done.set()

            backend.add_listener(on_change)
            transport = backend.transport()
            async with httpx.AsyncClient(transport=transport, base_url=EMBEDDED_BASE_URL) as api:
                started = time.perf_counter()
                for index in range(jobs):
                    await api.post(
                        "/v2/push", json={"function": "bench/noop", "inputs": {"value": index}}
                    )
                pushed = time.perf_counter() - started
                await all_done.wait()
                done = time.perf_counter() - started
        print(f"embedded: {jobs} pushes in {pushed:.2f} s = {jobs / pushed:,.0f} pushes/s")
        print(f"embedded: {jobs} jobs finished in {done:.2f} s = {jobs / done:,.0f} jobs/s "
              f"({workers} workers)")  # fmt: skip

    asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=4)
    options = parser.parse_args()
    served(options.jobs, options.workers)
    embedded(options.jobs, options.workers)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
