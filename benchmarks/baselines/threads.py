"""Baseline: a thread per job, each polling its own job, as a script that wants parallelism.

    python -m benchmarks.baselines.threads --url URL --key KEY --dag dag.json

Every job gets a thread: it waits for the jobs it needs, pushes, then polls
`GET /v2/jobs/{id}` every 0.5 s until the job ended. One shared httpx client (thread-safe)
with enough connections for every thread.
"""

from __future__ import annotations

import argparse
import threading
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
    done = {job["name"]: threading.Event() for job in jobs}
    failures: list[str] = []
    # keep-alive shorter than the server's (uvicorn closes idle connections after 5 s, httpx
    # reuses them for 5 s): reusing one the server is closing fails the request
    limits = httpx.Limits(
        max_connections=len(jobs) + 10, max_keepalive_connections=len(jobs), keepalive_expiry=2.0
    )
    client = httpx.Client(
        base_url=f"{args.url}/v2", headers={"X-API-Key": args.key}, timeout=120, limits=limits
    )

    def run(job: dict[str, Any]) -> None:
        try:
            for need in job["needs"]:
                done[need].wait()
            if failures:
                return
            body = {"function": FUNCTION, "inputs": inputs(job, results)}
            job_id = client.post("/push", json=body).raise_for_status().json()["id"]
            while True:
                time.sleep(args.poll)
                state = client.get(f"/jobs/{job_id}").raise_for_status().json()
                if state["status"] in ("finished", "error", "cancelled"):
                    break
            if state["status"] != "finished":
                failures.append(job["name"])
            results[job["name"]] = output(state)
        except Exception as error:  # a script would crash; keep the others from hanging
            failures.append(f"{job['name']}: {error}")
        finally:
            done[job["name"]].set()

    threads = [threading.Thread(target=run, args=(job,), daemon=True) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.close()
    if failures:
        raise SystemExit(f"failed: {failures[:5]}")


if __name__ == "__main__":
    main()
