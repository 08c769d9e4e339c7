"""What earlier runs of a manifest finished, for `plan` to tell new instances from known ones.

```python
finished = finished_instances("videos.toml")   # None: the manifest never ran here
```
Read from the ledger (`.sievefile/state.db` by the manifest), without creating it: an instance
counts as finished when any run of this manifest finished it or took it from the cache. The
cache reuses such an instance's outputs when its inputs are unchanged, so the rest is what a
run would push.
"""

from __future__ import annotations

import os
from pathlib import Path

from runner.execute import ledger as states
from runner.execute.ledger import Ledger, state_dir_for


def finished_instances(manifest: str | os.PathLike[str]) -> set[str] | None:
    """Instance keys that earlier runs of `manifest` finished; None when it has no runs."""
    database = state_dir_for(manifest) / "state.db"
    if not database.is_file():
        return None
    ledger = Ledger(database)
    try:
        runs = ledger.runs(str(Path(manifest).resolve()))
        if not runs:
            return None
        return {
            key
            for run in runs
            for key, row in ledger.jobs(run.run_id).items()
            if row.status in states.DONE
        }
    finally:
        ledger.close()
