"""What earlier runs of a manifest finished, for `plan` to tell new instances from known ones
and to mark the instances the result cache would reuse.

```python
finished = finished_instances("videos.toml")   # None: the manifest never ran here
cached = cached_instances(plan)                # {instance key: "run-id/key" it would reuse}
```
Read from the ledger (`.sievefile/state.db` by the manifest) over a read-only connection: `plan`
never creates or changes run state, and reads only instance keys (not 100,000 outputs). An
instance counts as finished when any run of this manifest finished it or took it from the
cache; the cache reuses such an instance's outputs when its inputs are unchanged, so the rest is
what a run would push.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from runner.errors import SievefileError
from runner.execute import ledger as states
from runner.execute.cache import cache_key
from runner.execute.durability import locked_versions
from runner.execute.ledger import find_cached, state_dir_for
from runner.manifest.plan import Plan


def finished_instances(manifest: str | os.PathLike[str]) -> set[str] | None:
    """Instance keys that earlier runs of `manifest` finished; None when it has no runs (or
    its ledger cannot be read)."""
    database = state_dir_for(manifest) / "state.db"
    if not database.is_file():
        return None
    done = sorted(states.DONE)
    try:
        connection = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error:
        return None
    try:
        name = str(Path(manifest).resolve())
        if connection.execute("SELECT 1 FROM runs WHERE manifest = ?", (name,)).fetchone() is None:
            return None
        rows = connection.execute(
            "SELECT DISTINCT jobs.key FROM jobs JOIN runs USING (run_id) WHERE runs.manifest = ?"
            f" AND jobs.status IN ({', '.join('?' for _ in done)})",
            (name, *done),
        )
        return {key for (key,) in rows}
    except sqlite3.Error:
        return None  # a ledger from another version: plan without the comparison
    finally:
        connection.close()


def cached_instances(plan: Plan) -> dict[str, str]:
    """The instances of `plan` a run would take from the result cache, with the earlier job
    each would reuse (`run-id/key`): the same lookup as the run's (cache key of the resolved
    inputs, newest finished job of this manifest with that key), wave by wave, so a job whose
    upstream jobs would all be reused is resolved from their cached outputs too. Instances whose
    inputs are known only once something runs (an upstream job that would be pushed, a
    run-time matrix, an unset env variable) are not marked."""
    manifest = plan.manifest.path
    database = state_dir_for(manifest) / "state.db"
    if not database.is_file():
        return {}
    try:
        connection = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error:
        return {}
    connection.row_factory = sqlite3.Row
    locked = locked_versions(manifest)
    name = str(Path(manifest).resolve())
    results: dict[str, dict[str, Any]] = {}
    found: dict[str, str] = {}
    try:
        for instance in plan.expanded_instances():
            try:
                resolved = plan.resolve(instance, results)
            except SievefileError:
                continue  # an upstream output this plan cannot know yet
            hit = find_cached(connection, name, cache_key(resolved, locked, plan.environ))
            if hit is None or hit.outputs is None:
                continue
            found[instance.key] = hit.cached_from or f"{hit.run_id}/{hit.key}"
            results[instance.key] = {"id": hit.job_id, "status": "finished", "outputs": hit.outputs}
    except sqlite3.Error:
        return {}  # a ledger from another version: plan without the marks
    finally:
        connection.close()
    return found
