"""Where a chains run spends its time, link by link: the profile behind docs/benchmarks.md.

    python -m benchmarks.trace [--chains 100] [--length 10] [--seconds 0.6] [--delay 0.04]
                               [-- more sievefile run options, e.g. --listen 127.0.0.1:0]

Runs `sievefile run` (a fresh process, as the benchmark does) against `benchmarks.delayserver`
with `--verbose --progress json`, so every request it makes is an event with its time, then
reads every job back from the server: its `created_at` (when its push arrived) and
`completed_at` (when it ended), by the server's clock, which is this machine's. For each link of
a chain (a job's end to the next job's push arriving) it splits the time into:

- end -> detected: until the answer of the first list request that left after the end's time
  less half a request (so it reached the server after the end);
- detected -> pushed: until the next job's push arrived (the runner's own work, the intent in
  the ledger, and the push's way in).

Quantiles (median, p90, max) over every link, the first link alone (the function has no
history yet), the time to the first push, the spread of the first wave, and the end of the run.
Nothing is written; only 127.0.0.1 is used.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.__main__ import KEY, ROOT, compile_bytecode, delay_server
from benchmarks.dags import chains
from runner.client import job_time


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--chains", type=int, default=100)
    parser.add_argument("--length", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=0.6)
    parser.add_argument("--delay", type=float, default=0.04)
    parser.add_argument("extra", nargs="*", help="more `sievefile run` options (after --)")
    args = parser.parse_args()
    compile_bytecode()
    dag = chains(args.chains, args.length, args.seconds)
    with (
        tempfile.TemporaryDirectory() as scratch,
        delay_server(len(dag.jobs), args.delay, True) as url,
    ):
        manifest, _ = dag.write(Path(scratch))
        command = [sys.executable, "-m", "runner", "run", str(manifest), "--api-url", url,
                   "--api-key", KEY, "--progress", "json", "--verbose", *args.extra]  # fmt: skip
        started = time.time()
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        ended = time.time()
        if done.returncode != 0:
            raise SystemExit(f"sievefile run failed: {done.stderr.strip()[-500:]}")
        jobs = _all_jobs(url)
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    report(args, dag.critical_path, started, ended, events, jobs)


def _all_jobs(url: str) -> dict[str, dict[str, Any]]:
    """Every job on the server, by the `me` of its payload (the DAG job's name)."""
    found: dict[str, dict[str, Any]] = {}
    offset = 0
    with httpx.Client(base_url=f"{url}/v2", headers={"X-API-Key": KEY}, timeout=60) as client:
        while True:
            body = client.get("/jobs", params={"limit": 500, "offset": offset}).json()
            for job in body["data"]:
                found[job["inputs"]["payload"]["data"]["me"]] = job
            if body.get("next_offset") in (None, -1):
                return found
            offset = body["next_offset"]


def report(
    args: argparse.Namespace,
    critical_path: float,
    started: float,
    ended: float,
    events: list[dict[str, Any]],
    jobs: dict[str, dict[str, Any]],
) -> None:
    # list requests: (left, answered), from each request event's time and duration
    lists = sorted(
        (_epoch(e["time"]) - e["seconds"], _epoch(e["time"]))
        for e in events
        if e.get("event") == "http.request" and e.get("method") == "GET"
        and e.get("path", "").split("?")[0].endswith("/v2/jobs")
    )  # fmt: skip
    half = args.delay / 2
    detect: list[float] = []
    react: list[float] = []
    links: dict[int, list[float]] = {}
    for chain in range(args.chains):
        for step in range(1, args.length):
            before, job = jobs[f"c{chain}_{step - 1}"], jobs[f"c{chain}_{step}"]
            end, arrived = _epoch(before["completed_at"]), _epoch(job["created_at"])
            links.setdefault(step, []).append(arrived - end)
            seen = next((answer for left, answer in lists if left >= end - half), None)
            if seen is not None and seen <= arrived:
                detect.append(seen - end)
                react.append(arrived - seen)
    first_push = min(_epoch(job["created_at"]) for job in jobs.values())
    wave = [_epoch(jobs[f"c{chain}_0"]["created_at"]) - first_push for chain in range(args.chains)]
    last_end = max(_epoch(job["completed_at"]) for job in jobs.values())
    every = [gap for gaps in links.values() for gap in gaps]
    print(f"{args.chains} chains x {args.length} jobs of {args.seconds:g} s, "
          f"{args.delay * 1000:g} ms a request: wall {ended - started:.2f} s, "
          f"{(ended - started) / critical_path:.2f} x the critical path")  # fmt: skip
    print(f"  start -> first push arrived      {first_push - started:.3f} s")
    print(f"  first wave spread                {_q(wave)}")
    print(f"  link: end -> next push arrived   {_q(every)}")
    print(f"    end -> detected (list answer)  {_q(detect)}")
    print(f"    detected -> next push arrived  {_q(react)}")
    print(f"  first link alone                 {_q(links.get(1, []))}")
    print(f"  last end -> process exit         {ended - last_end:.3f} s")
    print(f"  list requests                    {len(lists)} "
          f"(round trip {_q([answer - left for left, answer in lists])})")  # fmt: skip
    print("  (quantiles in seconds: median, p90, max)")
    first, last = _chain_split(args, jobs, first_push)
    print(f"  the first chain to end, then the last: {first}")
    print(f"                                         {last}")
    print("  (a chain: its first push after the run's first, its links and its jobs' run times)")


def _chain_split(
    args: argparse.Namespace, jobs: dict[str, dict[str, Any]], first_push: float
) -> tuple[str, str]:
    """The first and the last chain to end, where each spent its time: the makespan is the
    last one's, so what it lost against the first is what a faster run would win."""

    def split(chain: int) -> tuple[float, str]:
        steps = [jobs[f"c{chain}_{step}"] for step in range(args.length)]
        start = _epoch(steps[0]["created_at"]) - first_push
        links = [
            _epoch(after["created_at"]) - _epoch(before["completed_at"])
            for before, after in itertools.pairwise(steps)
        ]
        runs = sum(_epoch(job["completed_at"]) - _epoch(job["created_at"]) for job in steps)
        shown = " ".join(f"{link * 1000:.0f}" for link in links)
        end = _epoch(steps[-1]["completed_at"]) - first_push
        return end, (
            f"c{chain}: ends at +{end:.3f} s = start +{start:.3f} + links {sum(links):.3f} "
            f"({shown} ms) + runs {runs:.3f}"
        )

    ends = sorted(split(chain) for chain in range(args.chains))
    return ends[0][1], ends[-1][1]


def _q(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return f"{statistics.median(ordered):.3f} {p90:.3f} {ordered[-1]:.3f}"


def _epoch(stamp: str) -> float:
    when = job_time(stamp)
    if when is None:
        raise SystemExit(f"the server sent a time that is not ISO 8601: {stamp!r}")
    return when


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
