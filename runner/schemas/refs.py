"""Function references as manifests write them: `owner/name` or `owner/name:version`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from runner.errors import ManifestError, SourceLocation

# Owner, name and version become path segments of the schema cache, so they are kept to a safe
# alphabet (no separators, no leading dot).
_SEGMENT = r"[A-Za-z0-9_][A-Za-z0-9_.\-]*"
_REF = re.compile(rf"^(?P<owner>{_SEGMENT})/(?P<name>{_SEGMENT})(?::(?P<version>{_SEGMENT}))?$")
SEGMENT_PATTERN = re.compile(rf"^{_SEGMENT}$")


@dataclass(frozen=True)
class FunctionRef:
    """A function a job calls; `version` is set only when the manifest pins one.

    `location` (where the manifest names the function) is carried along for error messages and
    takes no part in equality.
    """

    owner: str
    name: str
    version: str | None = None
    location: SourceLocation | None = field(default=None, compare=False, hash=False)

    @classmethod
    def parse(cls, text: str, *, location: SourceLocation | None = None) -> FunctionRef:
        """Parse `owner/name[:version]`; a ManifestError (located when `location` is given)."""
        match = _REF.match(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise ManifestError(
                f"function {text!r} is not of the form owner/name or owner/name:version",
                location=location,
                key_path="function",
            )
        return cls(match["owner"], match["name"], match["version"], location=location)

    @property
    def slug(self) -> str:
        """`owner/name`, without the version."""
        return f"{self.owner}/{self.name}"

    @property
    def pinned(self) -> bool:
        return self.version is not None

    def __str__(self) -> str:
        return f"{self.slug}:{self.version}" if self.version else self.slug


@runtime_checkable
class FunctionRefLike(Protocol):
    """What `pull_schemas` and the lock need of a function reference.

    `FunctionRef` here, or the manifest loader's own reference type: any hashable object with
    `owner`, `name`, `version` (None when unpinned), `slug` and `str()` as `owner/name[:v]`. An
    optional `location` attribute locates error messages.
    """

    @property
    def owner(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str | None: ...

    @property
    def slug(self) -> str: ...

    def __hash__(self) -> int: ...


def location_of(ref: object) -> SourceLocation | None:
    """Where the manifest names `ref`, if the reference carries it."""
    location = getattr(ref, "location", None)
    return location if isinstance(location, SourceLocation) else None
