"""Files that ship with sievefile (the Sieve OpenAPI spec, the manifest schema, the schema of
`run --progress json` events).

In a source checkout they live in the repository's `schemas/` folder; in an installed wheel they
are copied to `runner/_resources/` (see `force-include` in pyproject.toml). `resource_path`
finds them in either place, so there is one way to load them.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
_SEARCH_PATH = (_PACKAGE_DIR / "_resources", _PACKAGE_DIR.parent / "schemas")

OPENAPI_SPEC = "sieve-openapi.yml"
#: The JSON Schema of the events `sievefile run --progress json` writes (docs/events.md).
EVENTS_SCHEMA = "events.schema.json"
#: The folder sievefile keeps its state in, next to a manifest (ledger, run records, files).
STATE_DIR = ".sievefile"


def resource_path(name: str) -> Path:
    """Return the path of the shipped file `name`; FileNotFoundError if it is not shipped."""
    for folder in _SEARCH_PATH:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"sievefile resource {name!r} is missing from this installation")


def read_text(name: str) -> str:
    return resource_path(name).read_text(encoding="utf-8")
