"""The schema cache: `<schemas dir>/functions/<owner>/<name>/<version-id>.json`.

The files are meant for git: pretty-printed, keys sorted, newline-terminated, and rewritten only
when their content changes, so a pull that learns nothing leaves `git status` clean. The
default schemas dir is the project's `schemas/` folder (see `default_schemas_dir`).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from runner.errors import ConfigError, ManifestError, SourceLocation
from runner.manifest.model import FunctionRef
from runner.schemas.model import FunctionSchema, pretty_json
from runner.schemas.refs import SEGMENT_PATTERN
from runner.suggest import did_you_mean

SCHEMAS_DIRNAME = "schemas"
FUNCTIONS_DIRNAME = "functions"


def default_schemas_dir(start: str | Path) -> Path:
    """The `schemas/` folder that belongs with a manifest (or folder) at `start`.

    The nearest existing `schemas/` in `start`'s folder or one of its parents, looking no
    further up than the repository root (a folder holding `.git`); when there is none, a new
    `schemas/` at the repository root, or beside the manifest outside a repository. So the
    cache of a repository is one folder, whichever folder a command starts from.
    """
    path = Path(start).resolve()
    folder = path if path.is_dir() else path.parent
    for candidate in (folder, *folder.parents):
        if (candidate / SCHEMAS_DIRNAME).is_dir():
            return candidate / SCHEMAS_DIRNAME
        if (candidate / ".git").exists():
            return candidate / SCHEMAS_DIRNAME
    return folder / SCHEMAS_DIRNAME


def find_schemas_dir(folder: str | Path) -> Path:
    """The cache a command started in `folder` reads (`schemas show`, `schemas list`).

    `default_schemas_dir(folder)` when that exists; else the one cache below `folder` (at most
    two levels down, hidden folders skipped), which is where `sievefile lock manifests/x.toml`
    run from `folder` outside a repository puts it (`manifests/schemas/`).
    """
    nearest = default_schemas_dir(folder)
    if nearest.is_dir():
        return nearest
    base = Path(folder).resolve()
    below = [
        candidate.parent
        for pattern in (f"*/{SCHEMAS_DIRNAME}/{FUNCTIONS_DIRNAME}",
                        f"*/*/{SCHEMAS_DIRNAME}/{FUNCTIONS_DIRNAME}")
        for candidate in sorted(base.glob(pattern))
        if candidate.is_dir()
        and not any(part.startswith(".") for part in candidate.relative_to(base).parts)
    ]  # fmt: skip
    return below[0] if len(below) == 1 else nearest


class SchemaCache:
    """Derived function schemas stored under `root` (a schemas dir)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def functions_dir(self) -> Path:
        return self.root / FUNCTIONS_DIRNAME

    def path_for(self, owner: str, name: str, version: str) -> Path:
        for part in (owner, name, version):
            if not SEGMENT_PATTERN.match(part):
                raise ConfigError(f"{part!r} cannot be part of a schema cache path")
        return self.functions_dir / owner / name / f"{version}.json"

    def read(self, owner: str, name: str, version: str) -> FunctionSchema | None:
        """The cached schema of `owner/name:version`, or None when it is not cached."""
        path = self.path_for(owner, name, version)
        if not path.is_file():
            return None
        schema = read_schema_file(path)
        if (schema.owner, schema.name, schema.version) != (owner, name, version):
            raise ManifestError(
                f"this file holds {schema.slug}:{schema.version}, not {owner}/{name}:{version}; "
                "delete it and run `sievefile schemas pull`",
                location=SourceLocation(str(path)),
            )
        return schema

    def write(self, schema: FunctionSchema) -> Path:
        """Store `schema` (atomically; untouched when the file already says the same)."""
        path = self.path_for(schema.owner, schema.name, schema.version)
        text = pretty_json(schema.to_document())
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            return path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        except OSError as error:
            raise ConfigError(
                f"cannot write the schema cache {self.root}: {error.strerror or error}; "
                "pass a writable --schemas-dir"
            ) from None
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
                stream.write(text)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return path

    def versions(self, owner: str, name: str) -> list[str]:
        """The cached version ids of `owner/name`, sorted."""
        folder = self.functions_dir / owner / name
        if not folder.is_dir():
            return []
        return sorted(path.stem for path in folder.glob("*.json") if not path.name.startswith("."))

    def refs(self) -> list[FunctionRef]:
        """Every cached `owner/name:version`, sorted."""
        found = []
        if self.functions_dir.is_dir():
            for owner_dir in sorted(p for p in self.functions_dir.iterdir() if p.is_dir()):
                for name_dir in sorted(p for p in owner_dir.iterdir() if p.is_dir()):
                    for version in self.versions(owner_dir.name, name_dir.name):
                        found.append(FunctionRef(owner_dir.name, name_dir.name, version))
        return found

    def find(self, ref: FunctionRef) -> FunctionSchema:
        """The schema for `ref` from the cache alone; ConfigError saying what to do if absent.

        Without a version, `ref` must have exactly one cached version (the cache records no
        dates: a service's timestamps are not stable enough to keep in git).
        """
        versions = [ref.version] if ref.version else self.versions(ref.owner, ref.name)
        if len(versions) > 1:
            raise ConfigError(
                f"{ref.slug} has several cached versions ({', '.join(versions)}); "
                f"name one as {ref.slug}:VERSION"
            )
        schema = self.read(ref.owner, ref.name, versions[0]) if versions else None
        if schema is None:
            cached = ", ".join(self.versions(ref.owner, ref.name))
            known = f" (cached versions: {cached})" if cached else ""
            hint = "" if cached else did_you_mean(ref.slug, {r.slug for r in self.refs()})
            raise ConfigError(
                f"no cached schema for {ref} in {self.root}{known}{hint}; "
                "run `sievefile schemas pull` for a manifest that uses it"
            )
        return schema


def read_schema_file(path: Path) -> FunctionSchema:
    """Load one cached schema file; a ManifestError located in the file if it is damaged."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ManifestError(
            f"not valid JSON ({error.msg}); delete it and run `sievefile schemas pull`",
            location=SourceLocation(str(path), error.lineno, error.colno),
        ) from None
    try:
        return FunctionSchema.from_document(document)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ManifestError(
            f"not a sievefile function schema ({error}); "
            "delete it and run `sievefile schemas pull`",
            location=SourceLocation(str(path)),
        ) from None
