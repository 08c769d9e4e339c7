"""`MANIFEST.lock`: the function versions a manifest runs, and the hash of each one's schema.

```toml
# (header comment)
format = 1

[functions."sieve/dubbing"]
schema_sha256 = "9f2c..."
version = "a5e1..."
```
Keys are the function references as the manifest writes them (`owner/name` or
`owner/name:version`). The file is TOML written with tomli-w, tables and keys sorted, so it
diffs cleanly. `check_lock` compares it with the service's latest metadata and refuses drift.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from runner._toml import TOMLDecodeError, toml_loads
from runner.errors import ConfigError, ManifestError, SourceLocation
from runner.manifest.model import FunctionRef
from runner.schemas.derive import derive_schema
from runner.schemas.model import FunctionSchema
from runner.schemas.refs import Locations, location_of, parse_ref

LOCK_FORMAT = 1
LOCK_SUFFIX = ".lock"
LOCK_HEADER = """\
# sievefile lock file: the function versions this manifest runs.
# Written by `sievefile lock`; commit it with the manifest, do not edit it by hand.
# schema_sha256 is the sha256 of the function's derived schema, cached in
# schemas/functions/<owner>/<name>/<version>.json.
"""


def lock_path_for(manifest_path: str | Path) -> Path:
    """`manifests/podcast.toml` -> `manifests/podcast.toml.lock`."""
    path = Path(manifest_path)
    return path.with_name(path.name + LOCK_SUFFIX)


@dataclass(frozen=True)
class LockEntry:
    """What the lock file says about one function reference."""

    version: str
    schema_sha256: str


@dataclass
class Lockfile:
    """The parsed lock file. `entries` is keyed by the reference text (`str(FunctionRef)`)."""

    entries: dict[str, LockEntry] = field(default_factory=dict)
    path: Path | None = None

    def entry_for(self, ref: FunctionRef) -> LockEntry | None:
        return self.entries.get(str(ref))

    def version_for(self, ref: FunctionRef) -> str | None:
        """The version to use for `ref`: its pin, else the locked one, else None."""
        if ref.version:
            return ref.version
        entry = self.entry_for(ref)
        return entry.version if entry else None

    def to_toml(self) -> str:
        document: dict[str, Any] = {
            "format": LOCK_FORMAT,
            "functions": {
                key: {"schema_sha256": entry.schema_sha256, "version": entry.version}
                for key, entry in sorted(self.entries.items())
            },
        }
        return LOCK_HEADER + "\n" + tomli_w.dumps(document)

    def location_of(self, key: str) -> SourceLocation | None:
        """Where the table for `key` starts in the lock file, for error messages."""
        if self.path is None:
            return None
        header = f'[functions."{key}"]'
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except OSError:
            return SourceLocation(str(self.path))
        for number, line in enumerate(lines, start=1):
            if line.strip() == header:
                return SourceLocation(str(self.path), number, 1)
        return SourceLocation(str(self.path))


def build_lock(schemas: Mapping[Any, FunctionSchema]) -> Lockfile:
    """The lock for a manifest's resolved functions (as `pull_schemas` returns them)."""
    return Lockfile(
        {
            str(ref): LockEntry(version=schema.version, schema_sha256=schema.digest)
            for ref, schema in schemas.items()
        }
    )


def write_lock(path: str | Path, schemas: Mapping[Any, FunctionSchema]) -> Lockfile:
    """Write the lock file for `schemas` at `path` (untouched when nothing changed)."""
    lock = build_lock(schemas)
    lock.path = Path(path)
    text = lock.to_toml()
    if not (lock.path.is_file() and lock.path.read_text(encoding="utf-8") == text):
        try:
            lock.path.write_text(text, encoding="utf-8", newline="\n")
        except OSError as error:
            raise ConfigError(
                f"cannot write the lock file {lock.path}: {error.strerror or error}"
            ) from None
    return lock


def read_lock(path: str | Path) -> Lockfile:
    """Parse a lock file; a located ManifestError when it is missing or malformed."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(
            "no lock file; run `sievefile lock` on the manifest first",
            location=SourceLocation(str(path)),
        ) from None
    try:
        document = toml_loads(text)
    except TOMLDecodeError as error:
        raise ManifestError(
            f"not valid TOML ({error}); run `sievefile lock` to rewrite it",
            location=SourceLocation(str(path)),
        ) from None
    if document.get("format") != LOCK_FORMAT:
        raise ManifestError(
            f"unsupported lock format {document.get('format')!r} (this sievefile writes "
            f"{LOCK_FORMAT}); run `sievefile lock` to rewrite it",
            location=SourceLocation(str(path)),
        )
    lock = Lockfile(path=path)
    functions = document.get("functions", {})
    problems = []
    for key, table in functions.items() if isinstance(functions, dict) else ():
        try:
            parse_ref(key)
            lock.entries[key] = LockEntry(str(table["version"]), str(table["schema_sha256"]))
        except (ManifestError, KeyError, TypeError) as error:
            problems.append(
                ManifestError(
                    f"bad entry ({error}); run `sievefile lock` to rewrite it",
                    location=lock.location_of(key),
                    key_path=f"functions.{key!r}",
                )
            )
    if problems:
        raise ManifestError(problems[0].detail, problems=problems)
    return lock


@dataclass(frozen=True)
class Drift:
    """A function whose locked version is not what would run now."""

    ref: FunctionRef
    locked_version: str | None
    current_version: str | None
    message: str


def find_drift(
    lock: Lockfile,
    refs: Iterable[FunctionRef],
    latest_metadata: Mapping[str, Mapping[str, Any]],
) -> list[Drift]:
    """Compare the lock with the service's latest metadata (keyed by `owner/name`).

    `latest_metadata` (`pull.latest_metadata` fetches it) should hold every unpinned
    reference; one it lacks is only checked for being in the lock (that is all an offline
    check can do).

    Pinned references (`owner/name:version`) never drift with the service; they only need
    the lock to agree with the pin. Unpinned ones drift when the latest version differs from
    the locked one, or when the same version now derives a different schema.
    """
    drifts: list[Drift] = []
    relock = f"run `sievefile lock {_manifest_name(lock)}`"
    for ref in dict.fromkeys(refs):
        entry = lock.entry_for(ref)
        if entry is None:
            message = f"{ref} is used by the manifest but missing from the lock file; {relock}"
            drifts.append(Drift(ref, None, ref.version, message))
            continue
        if ref.version is not None:
            if entry.version != ref.version:
                message = (
                    f"{ref} is pinned to version {ref.version} but locked at {entry.version}; "
                    f"{relock}"
                )
                drifts.append(Drift(ref, entry.version, ref.version, message))
            continue
        metadata = latest_metadata.get(ref.slug)
        if metadata is None:
            continue  # not compared with the service (offline): the lock entry stands
        latest = derive_schema(metadata)
        if latest.version != entry.version:
            message = (
                f"{ref} drifted: locked version {entry.version}, the service now serves "
                f"{latest.version}; {relock} to accept it, or pin `{ref.slug}:{entry.version}`"
            )
            drifts.append(Drift(ref, entry.version, latest.version, message))
        elif latest.digest != entry.schema_sha256:
            message = (
                f"the schema of {ref.slug}:{entry.version} changed (sha256 "
                f"{entry.schema_sha256[:12]}... is now {latest.digest[:12]}...); {relock}"
            )
            drifts.append(Drift(ref, entry.version, latest.version, message))
    return drifts


def check_lock(
    lock: Lockfile,
    refs: Iterable[FunctionRef],
    latest_metadata: Mapping[str, Mapping[str, Any]],
    *,
    locations: Locations | None = None,
) -> None:
    """Raise a ManifestError naming every drifted function (see `find_drift`); else return."""
    drifts = find_drift(lock, refs, latest_metadata)
    if not drifts:
        return
    problems = [
        ManifestError(
            drift.message,
            location=_drift_location(lock, drift, locations),
        )
        for drift in drifts
    ]
    raise ManifestError(problems[0].detail, problems=problems)


def _drift_location(
    lock: Lockfile, drift: Drift, locations: Locations | None
) -> SourceLocation | None:
    # A function missing from the lock is best shown where the manifest names it.
    named = location_of(drift.ref, locations)
    if drift.locked_version is None and named is not None:
        return named
    return lock.location_of(str(drift.ref))


def _manifest_name(lock: Lockfile) -> str:
    if lock.path is None or not lock.path.name.endswith(LOCK_SUFFIX):
        return "MANIFEST"
    return str(lock.path.with_name(lock.path.name[: -len(LOCK_SUFFIX)]))
