"""The JSON Schema dialect sievefile validates with: Draft 2020-12, with stricter numbers.

Two choices differ from plain 2020-12, both so that what passes validation is what a Python
function with that signature receives sensibly:
- `integer` is a Python `int` that is not a `bool` (2020-12 would also accept `2.0`);
- `number` is a finite `int` or `float` that is not a `bool` (TOML allows `nan` and `inf`,
  which JSON cannot carry). An `int` is a valid `number`, as an int is a valid float in Python.
`runner.schemas.fastcheck` implements the same rules; its tests hold the two together.
"""

from __future__ import annotations

import math
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.protocols import Validator

DRAFT_URI = "https://json-schema.org/draft/2020-12/schema"


def is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, int) or math.isfinite(value)


_TYPE_CHECKER = Draft202012Validator.TYPE_CHECKER.redefine_many(
    {
        "integer": lambda _checker, value: is_integer(value),
        "number": lambda _checker, value: is_number(value),
    }
)

SieveValidator: type[Validator] = validators.extend(
    Draft202012Validator, type_checker=_TYPE_CHECKER
)
