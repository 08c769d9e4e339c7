"""The DAGs of the waiting benchmarks, as a manifest for sievefile and a JSON file for the
baselines (`benchmarks/baselines/dag.py`): the same `local/sleep` jobs either way.

- `chains(n, length)`: n independent chains of `length` jobs, each feeding the next.
- `fan(width)`: one job -> `width` jobs that each take its output -> one job after them all.
- `independent(n)`: n jobs without dependencies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Dag:
    name: str
    jobs: list[dict[str, Any]]  # {"name", "needs", "seconds"}, upstream first
    critical_path: float

    def write(self, folder: Path) -> tuple[Path, Path]:
        """`<name>.toml` (one manifest job per DAG job) and `<name>.json`; their paths."""
        lines = ["version = 1", ""]
        for job in self.jobs:
            needs = job["needs"]
            # `me` makes every job's inputs unique (equal inputs would be a cache hit)
            upstream = f'"${{{{ jobs.{needs[0]}.outputs[0].me }}}}"' if needs else '""'
            payload = f'{{ up = {upstream}, me = "{job["name"]}" }}'
            lines += [f"[jobs.{job['name']}]", 'function = "local/sleep"']
            lines.append(f"inputs = {{ seconds = {job['seconds']}, payload = {payload} }}")
            if len(needs) > 1:
                lines.append(f"needs = {json.dumps(needs[1:])}")
            lines.append("")
        manifest = folder / f"{self.name}.toml"
        manifest.write_text("\n".join(lines))
        dag = folder / f"{self.name}.json"
        dag.write_text(json.dumps(self.jobs))
        return manifest, dag


def chains(count: int, length: int, seconds: float) -> Dag:
    jobs = [
        {
            "name": f"c{chain}_{step}",
            "needs": [f"c{chain}_{step - 1}"] if step else [],
            "seconds": seconds,
        }
        for step in range(length)
        for chain in range(count)
    ]
    return Dag(f"chains-{count}x{length}", jobs, length * seconds)


def fan(width: int, seconds: float) -> Dag:
    middle = [{"name": f"f{i}", "needs": ["source"], "seconds": seconds} for i in range(width)]
    jobs = [
        {"name": "source", "needs": [], "seconds": seconds},
        *middle,
        {"name": "sink", "needs": [job["name"] for job in middle], "seconds": seconds},
    ]
    return Dag(f"fan-1-{width}-1", jobs, 3 * seconds)


def independent(count: int, seconds: float) -> Dag:
    jobs = [{"name": f"j{i}", "needs": [], "seconds": seconds} for i in range(count)]
    return Dag(f"independent-{count}", jobs, seconds)
