"""What the commands do with a manifest's functions, each in one call.

- `sievefile lock MANIFEST` -> `lock_functions`: pull every function's current schema and
  write `MANIFEST.lock`.
- `sievefile schemas pull`, `validate` and `run` -> `resolve_schemas`: the schema of every
  function, from the lock and the cache when they have it, checking drift first with
  `locked=True`.

The caller supplies the manifest's function references (the manifest loader's) and
`fetch_metadata(owner, name)` (the API client's); this module knows neither.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from runner.manifest.model import FunctionRef
from runner.schemas.cache import default_schemas_dir
from runner.schemas.lock import Lockfile, check_lock, lock_path_for, read_lock, write_lock
from runner.schemas.model import FunctionSchema
from runner.schemas.pull import FetchMetadata, latest_metadata, pull_schemas
from runner.schemas.refs import Locations


async def lock_functions(
    manifest_path: str | Path,
    function_refs: Iterable[FunctionRef],
    fetch_metadata: FetchMetadata,
    *,
    schemas_dir: str | Path | None = None,
    backend: str = "the Sieve API",
    not_found_hint: str = "",
    locations: Locations | None = None,
) -> Lockfile:
    """Resolve every function to the version the service serves now (or its pin), cache the
    schemas and write the manifest's lock file. Returns the lock."""
    schemas = await pull_schemas(
        function_refs,
        fetch_metadata,
        schemas_dir or default_schemas_dir(manifest_path),
        backend=backend,
        not_found_hint=not_found_hint,
        locations=locations,
    )
    return write_lock(lock_path_for(manifest_path), schemas)


async def resolve_schemas(
    manifest_path: str | Path,
    function_refs: Iterable[FunctionRef],
    fetch_metadata: FetchMetadata | None,
    *,
    schemas_dir: str | Path | None = None,
    locked: bool = False,
    offline: bool = False,
    write_cache: bool = True,
    backend: str = "the Sieve API",
    not_found_hint: str = "",
    locations: Locations | None = None,
) -> dict[FunctionRef, FunctionSchema]:
    """The schema of every function a manifest uses.

    The lock file, when there is one, decides the versions, so a locked and cached manifest
    needs no network. `locked` requires the lock and refuses drift (comparing it with the
    service unless `offline`); `offline` makes a schema missing from the cache an error
    instead of a fetch; `write_cache=False` leaves the cache as it is (for checks that must
    not write files).
    """
    refs = list(dict.fromkeys(function_refs))
    lock_path = lock_path_for(manifest_path)
    lock = read_lock(lock_path) if locked or lock_path.is_file() else None
    if locked and lock is not None:
        latest = {}
        if not offline and fetch_metadata is not None:
            latest = await latest_metadata(
                refs,
                fetch_metadata,
                backend=backend,
                not_found_hint=not_found_hint,
                locations=locations,
            )
        check_lock(lock, refs, latest, locations=locations)
    return await pull_schemas(
        refs,
        fetch_metadata,
        schemas_dir or default_schemas_dir(manifest_path),
        lock=lock,
        offline=offline,
        write_cache=write_cache,
        backend=backend,
        not_found_hint=not_found_hint,
        locations=locations,
    )
