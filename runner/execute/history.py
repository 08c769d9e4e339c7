"""What earlier runs of a manifest finished, for `plan` to tell new instances from known ones.

```python
finished = finished_instances("videos.toml")   # None: the manifest never ran here
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

from runner.execute import ledger as states
from runner.execute.ledger import state_dir_for


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
