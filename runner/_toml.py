"""The TOML reader: stdlib `tomllib` on Python 3.11+, the `tomli` backport on 3.10."""

from __future__ import annotations

import sys
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]

TOMLDecodeError = tomllib.TOMLDecodeError


def toml_loads(text: str) -> dict[str, Any]:
    """The TOML document `text`; TOMLDecodeError for anything the reader refuses."""
    try:
        return tomllib.loads(text)
    except TOMLDecodeError:
        raise
    except ValueError as error:  # an integer of more digits than Python converts
        reason = str(error).split(";")[0]  # not the advice to raise Python's limit
        raise TOMLDecodeError(f"a value the reader cannot take ({reason})") from None
