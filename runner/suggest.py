"""Suggestions ("did you mean ...?") for every misspelled name: keys, inputs, jobs."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def close_matches(word: str, candidates: Iterable[str], *, limit: int = 3) -> list[str]:
    """The candidates that look like `word`, best first."""
    return difflib.get_close_matches(word, list(candidates), n=limit, cutoff=0.6)


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """A ` (did you mean 'x'?)` suffix for an error message, or "" when nothing is close."""
    matches = close_matches(word, candidates)
    if not matches:
        return ""
    if len(matches) == 1:
        return f" (did you mean {matches[0]!r}?)"
    listed = ", ".join(repr(m) for m in matches[:-1])
    return f" (did you mean {listed} or {matches[-1]!r}?)"
