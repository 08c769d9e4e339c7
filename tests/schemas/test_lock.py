"""The lock file: stable TOML round trip, and drift detection against the service."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner._toml import toml_loads
from runner.errors import ManifestError
from runner.manifest.model import FunctionRef
from runner.schemas import (
    build_lock,
    check_lock,
    derive_schema,
    find_drift,
    lock_path_for,
    read_lock,
    write_lock,
)
from tests.schemas.conftest import load_metadata, schema_of

REFS = [FunctionRef.parse("sieve/dubbing"), FunctionRef.parse("sieve/translate")]


def _lock_file(tmp_path: Path) -> Path:
    return lock_path_for(tmp_path / "podcast.toml")


def test_lock_path_sits_next_to_the_manifest() -> None:
    assert lock_path_for(Path("manifests/podcast.toml")) == Path("manifests/podcast.toml.lock")


def test_write_read_round_trip(tmp_path: Path) -> None:
    schemas = {ref: schema_of(ref.slug) for ref in REFS}
    written = write_lock(_lock_file(tmp_path), schemas)
    read = read_lock(_lock_file(tmp_path))
    assert read.entries == written.entries
    assert read.entries["sieve/dubbing"].version == schemas[REFS[0]].version
    assert read.entries["sieve/dubbing"].schema_sha256 == schemas[REFS[0]].digest


def test_lock_text_is_sorted_stable_and_commented(tmp_path: Path) -> None:
    path = _lock_file(tmp_path)
    write_lock(path, {ref: schema_of(ref.slug) for ref in reversed(REFS)})
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# sievefile lock file")
    assert text.index('[functions."sieve/dubbing"]') < text.index('[functions."sieve/translate"]')
    assert toml_loads(text)["format"] == 1
    write_lock(path, {ref: schema_of(ref.slug) for ref in REFS})
    assert path.read_text(encoding="utf-8") == text
    assert text.endswith("\n")


def test_no_drift_when_the_service_matches(tmp_path: Path) -> None:
    lock = write_lock(_lock_file(tmp_path), {ref: schema_of(ref.slug) for ref in REFS})
    latest = {ref.slug: load_metadata(ref.slug) for ref in REFS}
    assert find_drift(lock, REFS, latest) == []
    check_lock(lock, REFS, latest)


def test_new_version_on_the_service_is_drift_naming_old_and_new(tmp_path: Path) -> None:
    path = _lock_file(tmp_path)
    lock = write_lock(path, {ref: schema_of(ref.slug) for ref in REFS})
    old = schema_of("sieve/translate").version
    latest = {ref.slug: load_metadata(ref.slug) for ref in REFS}
    latest["sieve/translate"]["latest_version"]["id"] = "v-next"
    drifts = find_drift(lock, REFS, latest)
    assert [(d.ref.slug, d.locked_version, d.current_version) for d in drifts] == [
        ("sieve/translate", old, "v-next")
    ]
    with pytest.raises(ManifestError) as error:
        check_lock(read_lock(path), REFS, latest)
    line = path.read_text().splitlines().index('[functions."sieve/translate"]') + 1
    assert str(error.value) == (
        f"{path}:{line}:1: sieve/translate drifted: locked version {old}, the service now serves "
        f"v-next; run `sievefile lock {tmp_path / 'podcast.toml'}` to accept it, or pin "
        f"`sieve/translate:{old}`"
    )


def test_pinned_functions_do_not_drift_with_the_service(tmp_path: Path) -> None:
    version = schema_of("sieve/translate").version
    pinned = FunctionRef.parse(f"sieve/translate:{version}")
    lock = write_lock(_lock_file(tmp_path), {pinned: schema_of("sieve/translate")})
    assert str(pinned) in lock.entries
    latest = {"sieve/translate": load_metadata("sieve/translate")}
    latest["sieve/translate"]["latest_version"]["id"] = "v-next"
    assert find_drift(lock, [pinned], latest) == []
    # ... but a pin edited in the manifest must be re-locked.
    other = FunctionRef.parse("sieve/translate:v-other")
    lock.entries[str(other)] = lock.entries[str(pinned)]
    [drift] = find_drift(lock, [other], {})
    assert "pinned to version v-other but locked at" in drift.message


def test_same_version_with_a_different_schema_is_drift(tmp_path: Path) -> None:
    lock = write_lock(_lock_file(tmp_path), {REFS[1]: schema_of("sieve/translate")})
    latest = load_metadata("sieve/translate")
    latest["latest_version"]["inputs"][2]["data"] = "fr"
    [drift] = find_drift(lock, [REFS[1]], {"sieve/translate": latest})
    assert drift.locked_version == drift.current_version
    assert "the schema of sieve/translate:" in drift.message
    assert derive_schema(latest).digest[:12] in drift.message


def test_function_missing_from_the_lock_is_reported(tmp_path: Path) -> None:
    lock = write_lock(_lock_file(tmp_path), {REFS[1]: schema_of("sieve/translate")})
    with pytest.raises(ManifestError, match="sieve/dubbing is used by the manifest but missing"):
        check_lock(lock, REFS, {ref.slug: load_metadata(ref.slug) for ref in REFS})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("format = 1\n[functions\n", "not valid TOML"),
        ("format = 9\n", "unsupported lock format 9"),
        ('format = 1\n[functions."sieve/x"]\nversion = "v1"\n', "bad entry"),
        ('format = 1\n[functions."not a ref"]\nversion = "v"\nschema_sha256 = "s"\n', "bad entry"),
    ],
)
def test_malformed_lock_is_a_located_error(tmp_path: Path, text: str, message: str) -> None:
    path = _lock_file(tmp_path)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ManifestError, match=message) as error:
        read_lock(path)
    assert str(error.value).startswith(str(path))


def test_missing_lock_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no lock file; run `sievefile lock`"):
        read_lock(_lock_file(tmp_path))


def test_build_lock_keys_are_references_as_written() -> None:
    pinned = FunctionRef.parse("sieve/translate:abc")
    lock = build_lock({pinned: schema_of("sieve/translate"), REFS[0]: schema_of("sieve/dubbing")})
    assert sorted(lock.entries) == ["sieve/dubbing", "sieve/translate:abc"]


def test_rewording_descriptions_is_not_drift(tmp_path: Path) -> None:
    lock = write_lock(_lock_file(tmp_path), {REFS[1]: schema_of("sieve/translate")})
    latest = load_metadata("sieve/translate")
    latest["description"] = "Translate text, now with a longer description."
    assert find_drift(lock, [REFS[1]], {"sieve/translate": latest}) == []


def test_missing_function_is_located_in_the_manifest(tmp_path: Path) -> None:
    from runner.errors import SourceLocation

    lock = write_lock(_lock_file(tmp_path), {REFS[1]: schema_of("sieve/translate")})
    ref = FunctionRef.parse("sieve/dubbing")
    with pytest.raises(ManifestError) as error:
        check_lock(lock, [ref], {}, locations={ref: SourceLocation("podcast.toml", 21, 12)})
    assert str(error.value).startswith("podcast.toml:21:12: sieve/dubbing is used by the manifest")


def test_a_lock_path_that_cannot_be_written_is_a_usage_error(tmp_path: Path) -> None:
    from runner.errors import ConfigError

    path = tmp_path / "m.toml.lock"
    path.mkdir()
    with pytest.raises(ConfigError, match=r"cannot write the lock file .*m\.toml\.lock: "):
        write_lock(path, {ref: schema_of(ref.slug) for ref in REFS})
