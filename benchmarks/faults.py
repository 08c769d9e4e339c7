"""A run under network faults: does it finish, with one push per job, and how much time do the
retries cost? The scenario of issue 13.

    python benchmarks/faults.py [--chains 40] [--length 5] [--seconds 0.2] [--seed 1] [--no-faults]

Starts `sievefile serve` in a subprocess (127.0.0.1, a free port) behind the test suite's fault
proxy (`tests/support/faultproxy.py`), which fails 10% of requests with 500, 5% with 429, drops
5% of connections and loses 5% of answers after the server acted (for a push: the job exists,
its id never arrives). Runs `--chains` independent chains of `--length` `local/sleep` jobs of
`--seconds` each (critical path: length x seconds), and prints the wall time, the faults
injected, and the pushes the server counted (one per job means no duplicate).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.run_requests import start_server
from runner.backend import Backend
from runner.execute.run import RunRequest, execute
from tests.support.faultproxy import FaultProxy

#: The issue's mix: 10% 500, 5% 429, 5% dropped connections, 5% lost answers (25% in all).
MIX = {"500": 10, "429": 5, "drop": 5, "lost-answer": 5}


def chains_manifest(chains: int, length: int, seconds: float) -> str:
    lines = ["version = 1", "[run]", f"max_parallel = {chains}"]
    for chain in range(chains):
        for step in range(length):
            lines += [f"[jobs.c{chain}_{step}]", 'function = "local/sleep"']
            payload = f'"c{chain}_{step}"'
            if step:
                payload = f'"${{{{ jobs.c{chain}_{step - 1}.outputs[0] }}}}+{step}"'
            lines.append(f"inputs = {{ seconds = {seconds}, payload = {payload} }}")
    return "\n".join(lines) + "\n"


class BackoffTotal(logging.Handler):
    """Adds up the client's retry waits from its log lines ("retrying in 0.25 s")."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seconds = 0.0
        self.retries = 0

    def emit(self, record: logging.LogRecord) -> None:
        found = re.search(r"retrying in ([0-9.]+) s", record.getMessage())
        if found:
            self.seconds += float(found.group(1))
            self.retries += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chains", type=int, default=40)
    parser.add_argument("--length", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-faults", action="store_true", help="the same run, no faults")
    args = parser.parse_args()
    key = "benchmark-key"
    jobs = args.chains * args.length
    backoff = BackoffTotal()
    client_log = logging.getLogger("sievefile.client")
    client_log.setLevel(logging.INFO)
    client_log.addHandler(backoff)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        process, url = start_server(args.chains, folder, key)
        try:
            with FaultProxy(url) as proxy:
                if not args.no_faults:
                    proxy.chaos(sum(MIX.values()) / 100, seed=args.seed, mix=MIX)
                manifest = folder / "chains.toml"
                manifest.write_text(chains_manifest(args.chains, args.length, args.seconds))
                backend = Backend(kind="remote", url=proxy.url, api_key=key)
                started = time.perf_counter()
                summary = asyncio.run(execute(RunRequest(manifest, backend=backend)))
                elapsed = time.perf_counter() - started
                injected, requests = dict(proxy.injected), len(proxy.log)
            stats = httpx.get(f"{url}/v2/_stats", headers={"X-API-Key": key}, timeout=60).json()
        finally:
            process.kill()
            process.wait(30)
    print(f"jobs: {jobs}, ok: {summary.ok}, failed: {len(summary.failed)}")
    print(f"wall time {elapsed:.1f} s for a {args.length * args.seconds:.1f} s critical path")
    print(f"requests through the proxy: {requests}; faults injected: {injected}")
    print(f"client retries: {backoff.retries}, {backoff.seconds:.1f} s of backoff in all")
    print(f"pushes counted by the server: {stats['pushes']} (duplicates: {stats['pushes'] - jobs})")


if __name__ == "__main__":
    main()
