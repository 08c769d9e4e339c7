"""What durability costs: ledger writes per job, a run with and without the ledger, a cached re-run.

    python benchmarks/ledger_overhead.py [--jobs 500] [--parallel 100] [--writes 2000]

1. The ledger alone: `--writes` job instances through intend -> pushed -> ended (three commits,
   WAL, synchronous=FULL) in a temporary folder: milliseconds per job.
2. `--jobs` short `local/sleep` jobs against `sievefile serve` (a subprocess on 127.0.0.1) with
   `durable=False`, then with the ledger: wall time of each and the pushes the server counted.
3. The same manifest again with the ledger: every job a cache hit (pushes counted: 0).
4. Reconciliation with those jobs on the server, all created within the 300 s margin: the cost
   (time, list requests) of finding a just-pushed job, and of proving a push never arrived
   (the worst case: every job within the margin is listed).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from run_requests import MATRIX_VALUE, sleep_manifest, start_server  # type: ignore[import-not-found]

from runner.backend import Backend
from runner.client import SieveClient
from runner.execute.ledger import Ledger
from runner.execute.reconcile import find_pushed_job
from runner.execute.run import RunRequest, execute


def ledger_writes(folder: Path, count: int) -> float:
    ledger = Ledger(folder / "state.db")
    ledger.start_run("bench", "bench.toml", "0" * 64, {})
    started = time.perf_counter()
    for index in range(count):
        key = f"job[{index}]"
        ledger.intend("bench", key, "job", "owner/name", f"{index:064x}", 1)
        ledger.pushed("bench", key, f"id-{index}", 1)
        ledger.ended("bench", key, "finished", outputs=[index])
    elapsed = time.perf_counter() - started
    ledger.close()
    return elapsed / count * 1000


def pushes(url: str, key: str) -> int:
    stats = httpx.get(f"{url}/v2/_stats", headers={"X-API-Key": key}, timeout=60).json()
    return int(stats["pushes"])


async def reconcile_cost(url: str, key: str) -> None:
    async with SieveClient(url, key) as client:
        since = time.time()
        await client.push("local/sleep", {"seconds": 0, "payload": "lost"})
        for label, payload in (("found", "lost"), ("missing", "never-pushed")):
            before = client.request_count
            started = time.perf_counter()
            job = await find_pushed_job(
                client, "local/sleep", {"seconds": 0, "payload": payload}, since
            )
            elapsed = time.perf_counter() - started
            print(
                f"reconcile {label:8} {elapsed * 1000:7.1f} ms  "
                f"list requests={client.request_count - before}  match={job is not None}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--parallel", type=int, default=100)
    parser.add_argument("--writes", type=int, default=2000)
    args = parser.parse_args()
    key = "benchmark-key"
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        (folder / "ledger").mkdir()
        per_job = ledger_writes(folder / "ledger", args.writes)
        print(f"ledger: {per_job:.2f} ms per job (intend + pushed + ended, 3 commits)")
        process, url = start_server(args.parallel, folder, key)
        try:
            manifest = folder / "bench.toml"
            manifest.write_text(
                sleep_manifest(
                    list(range(args.jobs)), args.parallel, seconds="0.05", payload=MATRIX_VALUE
                )
            )
            backend = Backend(kind="remote", url=url, api_key=key)
            for label, durable in (
                ("without ledger", False),
                ("with ledger", True),
                ("cached re-run", True),
            ):
                before = pushes(url, key)
                started = time.perf_counter()
                request = RunRequest(manifest, backend=backend, durable=durable)
                summary = asyncio.run(execute(request))
                elapsed = time.perf_counter() - started
                print(
                    f"{label:15} {elapsed:6.2f} s  ok={summary.ok}  "
                    f"pushes={pushes(url, key) - before}  requests={summary.requests}"
                )
            asyncio.run(reconcile_cost(url, key))
        finally:
            process.kill()
            process.wait(30)


if __name__ == "__main__":
    main()
