"""Resolving a manifest's functions: cache first, then the service; offline; not found."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from runner.errors import BackendError, ManifestError, SourceLocation
from runner.manifest.model import FunctionRef
from runner.schemas import SchemaCache, pull_schemas, read_lock, write_lock

REFS = [FunctionRef.parse("sieve/dubbing"), FunctionRef.parse("sieve/translate")]


def pull(*args, **kwargs):
    return asyncio.run(pull_schemas(*args, **kwargs))


def test_pull_fetches_derives_and_caches(tmp_path: Path, metadata_fetcher) -> None:
    schemas = pull(REFS, metadata_fetcher, tmp_path)
    assert list(schemas) == REFS
    assert sorted(metadata_fetcher.calls) == ["sieve/dubbing", "sieve/translate"]
    cache = SchemaCache(tmp_path)
    for ref, schema in schemas.items():
        assert cache.read(ref.owner, ref.name, schema.version) == schema


def test_async_fetch_is_awaited(tmp_path: Path, metadata_fetcher) -> None:
    async def fetch(owner: str, name: str) -> dict:
        await asyncio.sleep(0)
        return metadata_fetcher(owner, name)

    assert list(pull(REFS, fetch, tmp_path)) == REFS


def test_one_fetch_per_function_however_often_it_is_used(tmp_path: Path, metadata_fetcher) -> None:
    refs = [FunctionRef.parse("sieve/translate") for _ in (3, 9)]
    pull(refs, metadata_fetcher, tmp_path)
    assert metadata_fetcher.calls == ["sieve/translate"]


def test_locked_and_cached_schemas_need_no_network(tmp_path: Path, metadata_fetcher) -> None:
    lock_path = tmp_path / "m.toml.lock"
    write_lock(lock_path, pull(REFS, metadata_fetcher, tmp_path))
    metadata_fetcher.calls.clear()

    def unreachable(owner: str, name: str) -> dict:
        raise BackendError("connection refused")

    schemas = pull(REFS, unreachable, tmp_path, lock=read_lock(lock_path))
    assert list(schemas) == REFS
    schemas = pull(REFS, None, tmp_path, lock=read_lock(lock_path), offline=True)
    assert list(schemas) == REFS


def test_offline_without_cache_is_a_located_error(tmp_path: Path, metadata_fetcher) -> None:
    ref = FunctionRef.parse("sieve/translate")
    locations = {ref: SourceLocation("m.toml", 7, 12)}
    with pytest.raises(ManifestError) as error:
        pull([ref], metadata_fetcher, tmp_path, offline=True, locations=locations)
    assert str(error.value).startswith(
        "m.toml:7:12: function: no cached schema for sieve/translate (not in the lock file)"
    )
    assert metadata_fetcher.calls == []


def test_unknown_function_names_the_backend(tmp_path: Path, metadata_fetcher) -> None:
    locations = {
        FunctionRef.parse("sieve/dubing"): SourceLocation("m.toml", 4, 12),
        FunctionRef.parse("acme/missing"): SourceLocation("m.toml", 9, 12),
    }
    with pytest.raises(ManifestError) as error:
        pull(
            list(locations),
            metadata_fetcher,
            tmp_path,
            locations=locations,
            backend="the embedded local backend",
            not_found_hint="to use the Sieve service, set SIEVE_API_KEY and pass --remote",
        )
    assert str(error.value).splitlines() == [
        "m.toml:4:12: function: sieve/dubing is not known to the embedded local "
        "backend; to use the Sieve service, set SIEVE_API_KEY and pass --remote",
        "m.toml:9:12: function: acme/missing is not known to the embedded local "
        "backend; to use the Sieve service, set SIEVE_API_KEY and pass --remote",
    ]


def test_pinned_version_the_service_no_longer_serves(tmp_path: Path, metadata_fetcher) -> None:
    ref = FunctionRef.parse("sieve/translate:old-version")
    with pytest.raises(ManifestError, match="pinned at version old-version, which is not in the"):
        pull([ref], metadata_fetcher, tmp_path)


def test_other_backend_errors_propagate(tmp_path: Path) -> None:
    def broken(owner: str, name: str) -> dict:
        raise BackendError("cannot reach http://127.0.0.1:9")

    with pytest.raises(BackendError, match="cannot reach"):
        pull(REFS, broken, tmp_path)


def test_latest_metadata_fetches_each_unpinned_function_once(metadata_fetcher) -> None:
    from runner.schemas import latest_metadata

    refs = [
        FunctionRef.parse("sieve/translate"),
        FunctionRef.parse("sieve/translate"),
        FunctionRef.parse("sieve/dubbing:v1"),
    ]
    latest = asyncio.run(latest_metadata(refs, metadata_fetcher))
    assert list(latest) == ["sieve/translate"]
    assert latest["sieve/translate"]["name"] == "translate"
    assert metadata_fetcher.calls == ["sieve/translate"]
    with pytest.raises(ManifestError, match="acme/gone is not known to the Sieve API"):
        asyncio.run(latest_metadata([FunctionRef.parse("acme/gone")], metadata_fetcher))
