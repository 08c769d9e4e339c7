"""HTTP requests per job for a whole `sievefile run` against `sievefile serve` on loopback.

    python benchmarks/run_requests.py [--jobs 1000] [--parallel 200] [--seconds 0.5]
                                      [--spread 2.0] [--workers 200]

Starts `sievefile serve` in a subprocess (127.0.0.1, a free port), runs a manifest of `--jobs`
`local/sleep` jobs (a matrix; each sleeps between `--seconds` and `--seconds + --spread`)
with `--parallel` in flight, and reads the server's own request counters (`GET /v2/_stats`).
Target (issue 6): at most 2.1 requests per job on a 1,000-job run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from runner.backend import Backend
from runner.execute.run import RunRequest, execute

MATRIX_VALUE = '"${{ matrix.i }}"'


def sleep_manifest(values: list[Any], parallel: int, *, seconds: str, payload: str) -> str:
    """A manifest with one `local/sleep` job per value of `values` (a matrix over `i`).

    `seconds` and `payload` are TOML values: a literal such as `0.05`, or `MATRIX_VALUE`.
    """
    return (
        f"version = 1\n[run]\nmax_parallel = {parallel}\n[jobs.sleep]\n"
        f'function = "local/sleep"\nmatrix = {{ i = {values} }}\nmax_instances = {len(values)}\n'
        f"inputs = {{ seconds = {seconds}, payload = {payload} }}\n"
    )


def start_server(workers: int, folder: Path, key: str) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "runner", "serve", "--port", "0", "--workers", str(workers)]
    command += ["--db", str(folder / "jobs.db"), "--files", str(folder / "files")]
    command += ["--log-level", "warning"]
    environment = {**os.environ, "SIEVE_API_KEY": key}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=environment
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("Serving the Sieve API on "):
            # Keep draining stdout: a full pipe would block the server.
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return process, line.split()[5].removesuffix("/v2")
    raise SystemExit("sievefile serve did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--parallel", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=0.5)
    parser.add_argument("--spread", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=200)
    args = parser.parse_args()
    key = "benchmark-key"
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        process, url = start_server(args.workers, folder, key)
        try:
            durations = [
                round(args.seconds + args.spread * ((i * 7919) % 1000) / 1000, 3)
                for i in range(args.jobs)
            ]
            manifest = folder / "bench.toml"
            manifest.write_text(
                sleep_manifest(durations, args.parallel, seconds=MATRIX_VALUE, payload='"done"')
            )
            request = RunRequest(manifest, backend=Backend(kind="remote", url=url, api_key=key))
            started = time.perf_counter()
            summary = asyncio.run(execute(request))
            elapsed = time.perf_counter() - started
            stats = httpx.get(f"{url}/v2/_stats", headers={"X-API-Key": key}, timeout=120).json()
        finally:
            process.kill()  # its job records are throw-away: no need for a graceful stop
            process.wait(30)
    requests = {k: v for k, v in stats["requests"].items() if k != "GET /_stats"}
    total = sum(requests.values())
    print(f"jobs: {args.jobs}, ok: {summary.ok}, failed: {len(summary.failed)}")
    print(f"wall time {elapsed:.1f} s")
    print(f"requests by endpoint: {requests}")
    print(f"requests per job: {total / args.jobs:.3f} (runner counted {summary.requests})")


if __name__ == "__main__":
    main()
