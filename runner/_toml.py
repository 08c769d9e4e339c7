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
    return tomllib.loads(text)
