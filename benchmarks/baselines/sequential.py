"""Baseline: sequential push-then-poll, as a script with the official SDK is usually written.

    python -m benchmarks.baselines.sequential --url URL --key KEY --dag dag.json

Level by level (the jobs whose upstream jobs are all done): push each job one after the other
(`function.push(...)`), then wait for each in turn (`job.result()`: `GET /v2/jobs/{id}` every
0.5 s until it ended). Plain httpx, one connection, like the SDK's requests session.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import httpx

from benchmarks.baselines.dag import FUNCTION, inputs, load, output


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--dag", required=True)
    parser.add_argument("--poll", type=float, default=0.5)
    args = parser.parse_args()
    jobs = load(args.dag)
    results: dict[str, Any] = {}
    headers = {"X-API-Key": args.key}
    with httpx.Client(base_url=f"{args.url}/v2", headers=headers, timeout=60) as client:
        remaining = list(jobs)
        while remaining:
            level = [job for job in remaining if all(need in results for need in job["needs"])]
            remaining = [job for job in remaining if job not in level]
            pushed = []
            for job in level:
                body = {"function": FUNCTION, "inputs": inputs(job, results)}
                answer = client.post("/push", json=body).raise_for_status().json()
                pushed.append((job, answer["id"]))
            for job, job_id in pushed:
                while True:
                    state = client.get(f"/jobs/{job_id}").raise_for_status().json()
                    if state["status"] in ("finished", "error", "cancelled"):
                        break
                    time.sleep(args.poll)
                if state["status"] != "finished":
                    raise SystemExit(f"{job['name']} ended {state['status']}")
                results[job["name"]] = output(state)


if __name__ == "__main__":
    main()
