"""The schema cache on disk: stable, diff-friendly files; read, write, list, find."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from runner.errors import ConfigError, ManifestError
from runner.manifest.model import FunctionRef
from runner.schemas import SchemaCache, default_schemas_dir, derive_schema
from runner.schemas.cache import find_schemas_dir
from tests.schemas.conftest import load_metadata, schema_of


def test_write_then_read_round_trips(tmp_path: Path) -> None:
    cache = SchemaCache(tmp_path / "schemas")
    schema = schema_of("sieve/dubbing")
    path = cache.write(schema)
    assert (
        path == tmp_path / "schemas" / "functions" / "sieve" / "dubbing" / f"{schema.version}.json"
    )
    again = cache.read("sieve", "dubbing", schema.version)
    assert again == schema
    assert again is not None
    assert again.digest == schema.digest


def test_files_are_pretty_sorted_and_newline_terminated(tmp_path: Path) -> None:
    cache = SchemaCache(tmp_path)
    text = cache.write(schema_of("sieve/demucs")).read_text(encoding="utf-8")
    assert text.endswith("}\n")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert '\n  "inputs": {\n' in text


def test_rewriting_the_same_schema_leaves_the_file_alone(tmp_path: Path) -> None:
    cache = SchemaCache(tmp_path)
    path = cache.write(schema_of("sieve/translate"))
    os.utime(path, (1_000_000, 1_000_000))
    cache.write(derive_schema(load_metadata("sieve/translate")))
    assert path.stat().st_mtime == 1_000_000
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_listing_and_versions(tmp_path: Path) -> None:
    cache = SchemaCache(tmp_path)
    assert cache.refs() == []
    for slug in ("sieve/translate", "sieve/demucs"):
        cache.write(schema_of(slug))
    newer = load_metadata("sieve/translate")
    newer["latest_version"]["id"] = "zz-newer"
    cache.write(derive_schema(newer))
    old_version = schema_of("sieve/translate").version
    assert cache.versions("sieve", "translate") == sorted([old_version, "zz-newer"])
    assert [str(ref) for ref in cache.refs()] == [
        f"sieve/demucs:{schema_of('sieve/demucs').version}",
        *[f"sieve/translate:{v}" for v in sorted([old_version, "zz-newer"])],
    ]
    with pytest.raises(ConfigError, match="sieve/translate has several cached versions"):
        cache.find(FunctionRef.parse("sieve/translate"))
    assert cache.find(FunctionRef.parse("sieve/demucs")) == schema_of("sieve/demucs")
    assert cache.find(FunctionRef.parse(f"sieve/translate:{old_version}")).version == old_version


def test_find_explains_what_is_missing(tmp_path: Path) -> None:
    cache = SchemaCache(tmp_path)
    with pytest.raises(ConfigError, match="no cached schema for sieve/translate"):
        cache.find(FunctionRef.parse("sieve/translate"))
    cache.write(schema_of("sieve/translate"))
    with pytest.raises(ConfigError, match=r"no cached schema for sieve/translate:nope .* a75cbd"):
        cache.find(FunctionRef.parse("sieve/translate:nope"))


def test_damaged_cache_file_is_a_located_error(tmp_path: Path) -> None:
    cache = SchemaCache(tmp_path)
    path = cache.write(schema_of("sieve/translate"))
    path.write_text('{\n  "format": 1,\n  oops\n}\n', encoding="utf-8")
    with pytest.raises(ManifestError) as error:
        cache.read("sieve", "translate", schema_of("sieve/translate").version)
    assert str(error.value).startswith(f"{path}:3:3: not valid JSON")
    path.write_text('{"format": 1}\n', encoding="utf-8")
    with pytest.raises(ManifestError, match="not a sievefile function schema"):
        cache.read("sieve", "translate", schema_of("sieve/translate").version)


@pytest.mark.parametrize("bad", ["..", "a/b", ".hidden", ""])
def test_path_segments_cannot_escape_the_cache(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ConfigError):
        SchemaCache(tmp_path).path_for("sieve", bad, "v1")


def test_default_schemas_dir_is_the_projects_schemas_folder(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "manifests" / "team").mkdir(parents=True)
    (project / ".git").mkdir()
    manifest = project / "manifests" / "team" / "podcast.toml"
    # No schemas/ yet: a new one at the repository root, found from every folder in it.
    assert default_schemas_dir(manifest) == project / "schemas"
    assert default_schemas_dir(project) == project / "schemas"
    (project / "manifests" / "schemas").mkdir()
    assert default_schemas_dir(manifest) == project / "manifests" / "schemas"
    (project / "manifests" / "schemas").rmdir()
    # The search stops at the repository root.
    (tmp_path / "schemas").mkdir()
    assert default_schemas_dir(manifest) == project / "schemas"
    # Outside a repository, beside the manifest.
    (project / ".git").rmdir()
    (tmp_path / "schemas").rmdir()
    assert default_schemas_dir(manifest) == project / "manifests" / "team" / "schemas"


def test_a_file_in_the_wrong_place_is_refused(tmp_path: Path) -> None:
    cache = SchemaCache(tmp_path)
    source = cache.write(schema_of("sieve/translate"))
    moved = cache.path_for("sieve", "translate", "v-other")
    moved.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(ManifestError, match="this file holds sieve/translate:a75cbd73"):
        cache.read("sieve", "translate", "v-other")


def test_an_unwritable_cache_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    in_the_way = tmp_path / "schemas"
    in_the_way.write_text("a file where the cache folder should be\n")
    with pytest.raises(
        ConfigError, match=r"cannot write the schema cache .*schemas: .*--schemas-dir"
    ):
        SchemaCache(in_the_way).write(schema_of("sieve/dubbing"))


def test_commands_find_the_cache_a_lock_wrote_below_them(tmp_path: Path) -> None:
    # `sievefile lock manifests/x.toml` outside a repository caches in manifests/schemas/.
    written = default_schemas_dir(tmp_path / "manifests" / "x.toml")
    assert written == tmp_path / "manifests" / "schemas"
    SchemaCache(written).write(schema_of("sieve/translate"))
    assert find_schemas_dir(tmp_path) == written
    assert find_schemas_dir(tmp_path / "manifests") == written
    # Two caches below: ambiguous, so the nearest (a new one here) is used.
    SchemaCache(tmp_path / "other" / "schemas").write(schema_of("sieve/translate"))
    assert find_schemas_dir(tmp_path) == tmp_path / "schemas"
