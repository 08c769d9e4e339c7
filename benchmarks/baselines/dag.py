"""The DAG file the baselines read: `[{"name", "needs": [names], "seconds"}]`, in an order
where every job comes after the jobs it needs (what `benchmarks.dags` writes).

Each job is one `local/sleep` push whose payload is `{"up": <its first upstream's "me">, "me":
<its name>}`, like a script that feeds one result into the next (the manifest does the same).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FUNCTION = "local/sleep"


def load(path: str) -> list[dict[str, Any]]:
    return list(json.loads(Path(path).read_text()))


def inputs(job: dict[str, Any], results: dict[str, Any]) -> dict[str, Any]:
    """The inputs of `job` once its upstream jobs' outputs are in `results`."""
    needs = job["needs"]
    upstream = results[needs[0]]["me"] if needs else ""
    return {"seconds": job["seconds"], "payload": {"up": upstream, "me": job["name"]}}


def output(job: dict[str, Any]) -> Any:
    outputs = job.get("outputs") or [{}]
    return outputs[0].get("data")
