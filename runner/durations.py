"""Durations as people write them: "45s", "30m", "1h30m", "1.5h", "2d", "500ms"."""

from __future__ import annotations

import math
import re

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
#: The same grammar as a regular expression, used by the manifest's JSON Schema too.
DURATION_PATTERN = r"^\s*(\d+(\.\d+)?(ms|s|m|h|d))+\s*$"


def parse_duration(value: str | int | float) -> float:
    """Seconds in `value`: a number of seconds or a string of number+unit parts.

    Raises ValueError with a message fit for a user when `value` is not a duration.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as '30m', got {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"a duration cannot be negative, got {value!r}")
        try:
            return _finite(float(value), value)
        except OverflowError:  # an int too large for a float
            return _finite(math.inf, value)
    text = value.strip()
    total = 0.0
    position = 0
    for match in _PART.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if not text or position != len(text):
        raise ValueError(
            f"expected a duration such as '45s', '30m' or '1h30m' (units ms, s, m, h, d), "
            f"got {value!r}"
        )
    return _finite(total, value)


def _finite(seconds: float, written: str | int | float) -> float:
    """`seconds`, unless it is NaN or infinite (a TOML `nan` or `inf`, 400 nines)."""
    if not math.isfinite(seconds):
        shown = repr(written)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise ValueError(f"a duration must be a finite number of seconds, got {shown}")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest readable form: 5400 -> '1h30m', 45 -> '45s', 0.5 -> '500ms'."""
    if seconds < 1 and seconds > 0:
        return f"{round(seconds * 1000)}ms"
    remaining = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
