"""Function references for the schema code: the manifest's `FunctionRef`, parsed and located.

A reference is `runner.manifest.model.FunctionRef` (`owner/name` or `owner/name:version`), the
one type the loader, the executor and this library share. Where a manifest names each function
travels beside the references as `Locations`, so errors can point at the manifest line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from runner.errors import ManifestError, SourceLocation
from runner.manifest.model import FunctionRef

# Owner, name and version become path segments of the schema cache, so they are kept to a safe
# alphabet (no separators, no leading dot).
SEGMENT_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")

#: Where a manifest names each function (the first place), for error messages.
Locations = Mapping[FunctionRef, SourceLocation]


def parse_ref(text: str, *, location: SourceLocation | None = None) -> FunctionRef:
    """Parse `owner/name[:version]`; a ManifestError (located when `location` is given)."""
    try:
        return FunctionRef.parse(text.strip() if isinstance(text, str) else text)
    except (ValueError, TypeError):
        raise ManifestError(
            f"function {text!r} is not of the form owner/name or owner/name:version",
            location=location,
            key_path="function",
        ) from None


def location_of(ref: FunctionRef, locations: Locations | None) -> SourceLocation | None:
    """Where the manifest names `ref`, when `locations` knows."""
    return locations.get(ref) if locations else None
