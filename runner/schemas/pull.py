"""Resolve a manifest's functions to schemas: from the cache when it can, else from the service.

`fetch_metadata(owner, name)` is any callable returning the `GET /v2/functions/{owner}/{name}`
JSON, plain or awaitable (the API client's method, or a test's lambda), so this module knows
nothing of HTTP. A `fetch_metadata` that also has a `fetch_version(owner, name, version)`
method (`runner.schemas.service.BackendFetcher` has) can describe a version other than the
latest one: a pinned or locked version that is not cached is then fetched from the service's
`GET /v2/functions/{owner}/{name}/versions/{version}`. Without it, or when the backend does
not serve that endpoint (`fetch_version` returns None), only the latest version is known.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from runner.errors import ApiError, BackendError, ManifestError, SourceLocation
from runner.manifest.model import FunctionRef
from runner.schemas.cache import SchemaCache
from runner.schemas.derive import derive_schema
from runner.schemas.lock import Lockfile
from runner.schemas.model import FunctionSchema
from runner.schemas.refs import Locations, location_of
from runner.suggest import did_you_mean

Metadata = Mapping[str, Any]
FetchMetadata = Callable[[str, str], "Awaitable[Metadata] | Metadata"]
#: `await fetch_version(owner, name, version)`: that version's `Version` JSON (`id`, `inputs`,
#: `outputs`), None when the backend does not serve the versions endpoint; an ApiError (404)
#: when it serves it but has no such version.
FetchVersion = Callable[[str, str, str], Awaitable["Metadata | None"]]


async def fetch_latest(
    fetch_metadata: FetchMetadata,
    ref: FunctionRef,
    *,
    backend: str = "the Sieve API",
    not_found_hint: str = "",
    locations: Locations | None = None,
    known: Iterable[str] = (),
) -> Metadata:
    """The service's metadata for `ref`; a ManifestError naming `backend` on a 404, located
    where `locations` says the manifest names `ref`, with a "did you mean" among the `known`
    function names (`owner/name`)."""
    try:
        result = fetch_metadata(ref.owner, ref.name)
        if inspect.isawaitable(result):
            result = await result
    except ApiError as error:
        if error.status_code != 404:
            raise
        hint = f"; {not_found_hint}" if not_found_hint else ""
        close = did_you_mean(ref.slug, [name for name in known if name != ref.slug])
        raise ManifestError(
            f"{ref.slug} is not known to {backend}{close}{hint}",
            location=location_of(ref, locations),
            key_path="function",
        ) from None
    return result


async def pull_schemas(
    function_refs: Iterable[FunctionRef],
    fetch_metadata: FetchMetadata | None,
    schemas_dir: str | Path,
    *,
    lock: Lockfile | None = None,
    offline: bool = False,
    write_cache: bool = True,
    backend: str = "the Sieve API",
    not_found_hint: str = "",
    locations: Locations | None = None,
) -> dict[FunctionRef, FunctionSchema]:
    """The schema of every function in `function_refs`, caching what it fetches.

    A reference's version is its pin, else its lock entry; a known version already cached is
    read from disk without touching the network. Otherwise the latest metadata is fetched
    (once per `owner/name`), derived and cached (unless `write_cache` is false). With
    `offline` (or no `fetch_metadata`) a missing schema is an error instead of a fetch.
    Every problem is collected and raised together as one ManifestError, each located where
    the manifest names the function.
    """
    cache = SchemaCache(schemas_dir)
    refs = list(dict.fromkeys(function_refs))
    resolved: dict[FunctionRef, FunctionSchema] = {}
    to_fetch: list[FunctionRef] = []
    problems: list[ManifestError] = []
    for ref in refs:
        version = lock.version_for(ref) if lock else ref.version
        cached = cache.read(ref.owner, ref.name, version) if version else None
        if cached is not None:
            resolved[ref] = cached
        elif offline or fetch_metadata is None:
            wanted = f"{ref.slug}:{version}" if version else f"{ref.slug} (not in the lock file)"
            problems.append(
                ManifestError(
                    f"no cached schema for {wanted} in {cache.root} and working offline; "
                    "run `sievefile schemas pull` (and `sievefile lock`) with the service "
                    "reachable",
                    location=location_of(ref, locations),
                    key_path="function",
                )
            )
        else:
            to_fetch.append(ref)

    if to_fetch and fetch_metadata is not None:
        # The cache holds functions a backend knew: a misspelled name is likely among them.
        known = {ref.slug for ref in cache.refs()}
        metadata, fetch_problems = await _fetch_each_latest(
            to_fetch,
            fetch_metadata,
            backend=backend,
            not_found_hint=not_found_hint,
            locations=locations,
            known=known,
        )
        problems.extend(fetch_problems)
        latest: dict[str, FunctionSchema] = {}
        for slug, fetched_metadata in metadata.items():
            schema = derive_schema(fetched_metadata)
            if write_cache:
                cache.write(schema)
            latest[slug] = schema
        fetch_version: FetchVersion | None = getattr(fetch_metadata, "fetch_version", None)
        for ref in to_fetch:
            fetched = latest.get(ref.slug)
            if fetched is None:
                continue
            version = lock.version_for(ref) if lock else ref.version
            if version and version != fetched.version:
                try:
                    older = await _older_version(
                        fetch_version,
                        metadata[ref.slug],
                        ref,
                        version,
                        backend=backend,
                        location=location_of(ref, locations),
                    )
                except ManifestError as error:
                    problems.append(error)
                    continue
                if older is None:
                    problems.append(
                        ManifestError(
                            _not_latest_message(ref, version, fetched.version, backend),
                            location=location_of(ref, locations),
                            key_path="function",
                        )
                    )
                    continue
                if write_cache:
                    cache.write(older)
                fetched = older
            resolved[ref] = fetched
    if problems:
        raise ManifestError(problems[0].detail, problems=problems)
    return {ref: resolved[ref] for ref in refs if ref in resolved}


async def _older_version(
    fetch_version: FetchVersion | None,
    latest: Metadata,
    ref: FunctionRef,
    version: str,
    *,
    backend: str,
    location: SourceLocation | None,
) -> FunctionSchema | None:
    """The schema of `version` (not the latest) from the versions endpoint; None when the
    backend does not serve it. A version the backend says it does not have is a ManifestError
    naming it, at `location`."""
    if fetch_version is None:
        return None
    try:
        body = await fetch_version(ref.owner, ref.name, version)
    except ApiError as error:
        if error.status_code != 404:
            raise
        source = "pinned" if ref.version is not None else "locked"
        current = _latest_id(latest)
        advice = (
            f"pin a version it has, such as `{ref.slug}:{current}`, or remove the pin"
            if ref.version is not None
            else "run `sievefile lock` to move to the version it serves now"
        )
        raise ManifestError(
            f"{ref.slug} is {source} at version {version}, which {backend} no longer has "
            f"(it serves {current} now); {advice}",
            location=location,
            key_path="function",
        ) from None
    if body is None:
        return None
    if body.get("id") not in (None, version):
        raise BackendError(
            f"{backend} answered the request for {ref.slug}:{version} with version {body['id']}"
        )
    return derive_schema({**latest, "latest_version": {**body, "id": version}})


def _latest_id(metadata: Metadata) -> str:
    latest = metadata.get("latest_version")
    return str(latest.get("id")) if isinstance(latest, Mapping) else "?"


def _not_latest_message(ref: FunctionRef, version: str, latest: str, backend: str) -> str:
    source = "pinned" if ref.version is not None else "locked"
    advice = (
        f"pin `{ref.slug}:{latest}`"
        if ref.version is not None
        else "run `sievefile lock` to move to it"
    )
    return (
        f"{ref.slug} is {source} at version {version}, which is not in the schema cache, and "
        f"{backend} now serves {latest} (it only describes its latest version); {advice}"
    )


async def latest_metadata(
    function_refs: Iterable[FunctionRef],
    fetch_metadata: FetchMetadata,
    *,
    backend: str = "the Sieve API",
    not_found_hint: str = "",
    locations: Locations | None = None,
) -> dict[str, Metadata]:
    """The service's latest metadata for every unpinned reference, keyed by `owner/name`.

    What `check_lock` compares the lock with; each function is fetched once, concurrently.
    """
    latest, problems = await _fetch_each_latest(
        [ref for ref in function_refs if ref.version is None],
        fetch_metadata,
        backend=backend,
        not_found_hint=not_found_hint,
        locations=locations,
    )
    if problems:
        raise ManifestError(problems[0].detail, problems=problems)
    return latest


async def _fetch_each_latest(
    function_refs: Iterable[FunctionRef],
    fetch_metadata: FetchMetadata,
    *,
    backend: str,
    not_found_hint: str,
    locations: Locations | None,
    known: Iterable[str] = (),
) -> tuple[dict[str, Metadata], list[ManifestError]]:
    """The latest metadata of each distinct `owner/name`, fetched once each, concurrently.

    Unknown functions come back as located problems (so every one is reported, not the first);
    any other failure (unreachable, 401, ...) is raised.
    """
    wanted: dict[str, FunctionRef] = {}
    for ref in function_refs:
        wanted.setdefault(ref.slug, ref)
    results = await asyncio.gather(
        *(
            fetch_latest(
                fetch_metadata,
                ref,
                backend=backend,
                not_found_hint=not_found_hint,
                locations=locations,
                known=known,
            )
            for ref in wanted.values()
        ),
        return_exceptions=True,
    )
    latest: dict[str, Metadata] = {}
    problems: list[ManifestError] = []
    for slug, result in zip(wanted, results, strict=True):
        if isinstance(result, ManifestError):
            problems.append(result)
        elif isinstance(result, BaseException):
            raise result
        else:
            latest[slug] = result
    return latest, problems
