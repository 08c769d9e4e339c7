"""Secret values and masking: what `${{ env.* }}` resolved to must never be shown.

Whoever resolves a secret adds it to a `Secrets`; whoever prints, logs or stores text passes it
through `mask` (or `mask_value` for JSON-like data) first.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote

MASK = "***"
#: Shorter values are not masked: a region code or a port would turn every line into
#: `finish***d` and hide nothing worth hiding (documented in docs/manifest.md, Secrets).
MIN_LENGTH = 4


class Secrets:
    """A set of secret strings and the masking of them in text and data."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        # what `mask` looks for, longest first (overlaps mask fully): each value as it is and
        # as text written elsewhere shows it; kept in order here, not sorted at every mask
        self._forms: list[str] = []
        for value in values:
            self.add(value)

    def add(self, value: str) -> None:
        """Treat `value` as secret from now on (values shorter than MIN_LENGTH: ignored)."""
        if len(value) >= MIN_LENGTH and value not in self._values:
            self._values.add(value)
            forms = {*self._forms, *_written_forms(value)}
            self._forms = sorted((f for f in forms if len(f) >= MIN_LENGTH), key=len, reverse=True)

    def update(self, other: Iterable[str]) -> None:
        for value in other:
            self.add(value)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, value: object) -> bool:
        return value in self._values

    def __repr__(self) -> str:
        # the values themselves are the one thing a repr must not show
        return f"Secrets(<{len(self._values)} hidden>)"

    def mask(self, text: str) -> str:
        """`text` with every secret replaced by `***` (longest first, so overlaps mask fully),
        also where it appears escaped: in JSON or TOML text, a Python repr, a URL."""
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return text

    def mask_value(self, value: Any) -> Any:
        """A copy of JSON-like `value` with every string masked (keys included)."""
        if not self._values:
            return value
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, dict):
            return {self.mask_value(key): self.mask_value(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.mask_value(item) for item in value]
        return value


def _written_forms(value: str) -> set[str]:
    """`value` and how it reads inside JSON, TOML (the same escapes), a repr or a URL: a secret
    with a quote, a backslash or a tab in it is shown escaped, and must be masked there too."""
    return {
        value,
        json.dumps(value, ensure_ascii=False)[1:-1],
        json.dumps(value)[1:-1],
        value.replace("\\", "\\\\").replace('"', '\\"'),  # TOML: a tab stays as it is
        repr(value)[1:-1],
        quote(value, safe=""),
        quote(value),
    }
