"""Schemas from the local backend over a real socket: the public functions' test plugin agrees
with the live-shaped fixtures; pull, lock, drift after re-registration, offline validation,
unknown functions; and what validation accepts is what the server accepts."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

import runner
from runner.errors import ManifestError, SourceLocation
from runner.manifest.model import FunctionRef
from runner.schemas import (
    check_inputs,
    check_lock,
    derive_schema,
    latest_metadata,
    lock_path_for,
    pull_schemas,
    read_lock,
    write_lock,
)
from tests.schemas.conftest import PUBLIC_FUNCTIONS, client_fetcher, schema_of
from tests.support import public_functions
from tests.support.waiting import wait_until


def _without_type_strings(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {key: value for key, value in prop.items() if key != "x-sieve-type"}
        for name, prop in schema["properties"].items()
    }


@pytest.mark.parametrize("slug", PUBLIC_FUNCTIONS)
def test_plugin_serves_what_the_fixtures_describe(public_server, slug: str) -> None:
    metadata = httpx.get(f"{public_server.url}/v2/functions/{slug}").json()
    served = derive_schema(metadata)
    fixture = schema_of(slug)
    assert served.warnings == ()
    assert served.required == fixture.required
    assert served.input_order == fixture.input_order
    assert _without_type_strings(served.inputs) == _without_type_strings(fixture.inputs)


def test_pull_and_lock_over_a_real_socket(public_server, tmp_path: Path) -> None:
    refs = [FunctionRef.parse(slug) for slug in PUBLIC_FUNCTIONS]
    schemas = asyncio.run(
        pull_schemas(refs, client_fetcher(public_server.url), tmp_path / "schemas")
    )
    lock = write_lock(lock_path_for(tmp_path / "m.toml"), schemas)
    assert sorted(lock.entries) == PUBLIC_FUNCTIONS
    for ref, schema in schemas.items():
        served = public_server.backend.registry.get(ref.owner, ref.name)
        assert lock.entries[str(ref)].version == served.version_id == schema.version
        assert (
            tmp_path / "schemas" / "functions" / "sieve" / ref.name / f"{schema.version}.json"
        ).is_file()


def test_unknown_function_on_the_local_backend(public_server, tmp_path: Path) -> None:
    ref = FunctionRef.parse("sieve/dubing")
    with pytest.raises(ManifestError) as error:
        asyncio.run(
            pull_schemas(
                [ref],
                client_fetcher(public_server.url),
                tmp_path,
                backend=f"the local backend at {public_server.url}",
                locations={ref: SourceLocation("podcast.toml", 12, 12)},
            )
        )
    assert str(error.value) == (
        f"podcast.toml:12:12: function: sieve/dubing is not known to the local backend at "
        f"{public_server.url}"
    )


def translate_v2(text: str, target: str = "es", formality: bool = False) -> str:
    """A new signature for sieve/translate.

    Args:
        text: The text to translate.
        target: Target language code.
        formality: Use the formal register.
    """
    return text


class NewTranslate:
    """Serves `sieve/translate` with a new signature, and the other public functions."""

    @runner.hookimpl
    def register_functions(self, register) -> None:
        for function in public_functions.PUBLIC_FUNCTIONS:
            if function.__name__ != "translate":
                register(function, name=f"sieve/{function.__name__}")
        register(translate_v2, name="sieve/translate")


def _translate_version(server) -> str:
    return server.backend.registry.get("sieve", "translate").version_id


def test_drift_after_a_function_is_registered_with_a_new_signature(
    start_local_server, start_public_server, tmp_path: Path
) -> None:
    refs = [FunctionRef.parse("sieve/translate"), FunctionRef.parse("sieve/dubbing")]
    lock_path = lock_path_for(tmp_path / "m.toml")
    before = start_public_server()
    schemas = asyncio.run(pull_schemas(refs, client_fetcher(before.url), tmp_path))
    write_lock(lock_path, schemas)
    old_version = _translate_version(before)
    before.stop()
    after = start_local_server(builtins=(), plugins=[NewTranslate()], api_key=None)
    new_version = _translate_version(after)
    latest = asyncio.run(latest_metadata(refs, client_fetcher(after.url)))
    assert sorted(latest) == ["sieve/dubbing", "sieve/translate"]
    assert old_version != new_version
    with pytest.raises(ManifestError) as error:
        check_lock(read_lock(lock_path), refs, latest)
    message = str(error.value)
    assert message.count("\n") == 0, "only sieve/translate drifted"
    assert f"sieve/translate drifted: locked version {old_version}" in message
    assert f"the service now serves {new_version}" in message
    # Pinning the locked version accepts the drift (the cached schema still validates).
    pinned = FunctionRef.parse(f"sieve/translate:{old_version}")
    write_lock(lock_path, {pinned: schemas[refs[0]]})
    check_lock(read_lock(lock_path), [pinned], latest)


def test_offline_validation_with_the_server_gone(public_server, tmp_path: Path) -> None:
    refs = [FunctionRef.parse("sieve/dubbing"), FunctionRef.parse("sieve/translate")]
    lock_path = lock_path_for(tmp_path / "m.toml")
    url = public_server.url
    write_lock(lock_path, asyncio.run(pull_schemas(refs, client_fetcher(url), tmp_path)))
    _stop_and_wait_until_gone(public_server)
    schemas = asyncio.run(
        pull_schemas(refs, client_fetcher(url), tmp_path, lock=read_lock(lock_path), offline=True)
    )
    dubbing = schemas[refs[0]]
    assert (
        check_inputs(dubbing, {"source_file": {"url": "https://x/a.mp4"}, "target_language": "fr"})
        == []
    )
    [problem] = check_inputs(
        dubbing, {"source_file": {"url": "https://x/a.mp4"}, "tagret_language": "fr"}
    )[1:]
    assert problem.message == "unknown input of sieve/dubbing (did you mean 'target_language'?)"


def _stop_and_wait_until_gone(server) -> None:
    """Stop the server and wait until its port refuses connections: the network is gone."""
    server.stop()

    def refused() -> bool:
        try:
            httpx.get(f"{server.url}/v2/jobs", timeout=1)
        except httpx.TransportError:
            return True
        return False

    wait_until(refused, what=f"{server.url} to stop answering")


def _project(tmp_path: Path) -> Path:
    """A project folder with a schemas/ dir and a manifest path (the loader is not needed)."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "schemas").mkdir()
    (tmp_path / "manifests").mkdir()
    return tmp_path / "manifests" / "podcast.toml"


def test_lock_then_resolve_locked_then_drift_then_offline(
    start_local_server, public_server, tmp_path: Path
) -> None:
    """`sievefile lock`, `validate --locked`, a re-registered function, `--offline`."""
    from runner.schemas import lock_functions, resolve_schemas

    manifest = _project(tmp_path)
    refs = [FunctionRef.parse("sieve/translate"), FunctionRef.parse("sieve/dubbing")]
    lock = asyncio.run(lock_functions(manifest, refs, client_fetcher(public_server.url)))
    assert lock.path == tmp_path / "manifests" / "podcast.toml.lock"
    cached = sorted(
        p.relative_to(tmp_path).parts[:4] for p in (tmp_path / "schemas").rglob("*.json")
    )
    assert cached == [
        ("schemas", "functions", "sieve", "dubbing"),
        ("schemas", "functions", "sieve", "translate"),
    ]
    schemas = asyncio.run(
        resolve_schemas(manifest, refs, client_fetcher(public_server.url), locked=True)
    )
    assert [s.version for s in schemas.values()] == [lock.entries[str(r)].version for r in refs]
    public_server.stop()

    changed = start_local_server(builtins=(), plugins=[NewTranslate()], api_key=None)
    with pytest.raises(ManifestError, match="sieve/translate drifted"):
        asyncio.run(resolve_schemas(manifest, refs, client_fetcher(changed.url), locked=True))
    # Without --locked the lock still decides the versions: the cached schemas are used.
    schemas = asyncio.run(resolve_schemas(manifest, refs, client_fetcher(changed.url)))
    assert "source" in schemas[refs[0]].properties
    gone = changed.url
    _stop_and_wait_until_gone(changed)

    # The server is gone: offline validation works from the lock and the cache alone.
    schemas = asyncio.run(
        resolve_schemas(manifest, refs, client_fetcher(gone), locked=True, offline=True)
    )
    assert sorted(s.slug for s in schemas.values()) == ["sieve/dubbing", "sieve/translate"]


def test_locked_without_a_lock_file_says_how_to_make_one(tmp_path: Path) -> None:
    from runner.schemas import resolve_schemas

    manifest = _project(tmp_path)
    with pytest.raises(ManifestError, match="no lock file; run `sievefile lock`"):
        asyncio.run(
            resolve_schemas(manifest, [FunctionRef.parse("sieve/translate")], None, locked=True)
        )
    with pytest.raises(ManifestError, match="no cached schema for sieve/translate"):
        asyncio.run(
            resolve_schemas(manifest, [FunctionRef.parse("sieve/translate")], None, offline=True)
        )
