"""The fast yes/no check agrees with jsonschema (the dialect's validator) on every value."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from runner.schemas.dialect import SieveValidator
from runner.schemas.fastcheck import compile_check, json_equal
from runner.schemas.typestrings import schema_for_type
from tests.schemas.conftest import PUBLIC_FUNCTIONS, schema_of

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "a", "wav", "720p", "cl100k_base", "None", "https://x/a.mp4"]),
)
KEYS = st.sampled_from(["url", "path", "ulr", "text", "file", "target", "x"])
VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(KEYS, children, max_size=3)
    ),
    max_leaves=8,
)

TYPE_STRINGS = [
    "str",
    "int",
    "float",
    "bool",
    "list",
    "dict",
    "List[int]",
    "Dict[str, float]",
    "Optional[sieve.File]",
    "Tuple[int, str]",
    "Literal['a', 1, True, None]",
    "Union[int, List[str]]",
    "sieve.File",
    "unknown.Thing",
]
SCHEMAS = [schema_for_type(text).schema for text in TYPE_STRINGS] + [
    schema_of(slug).inputs for slug in PUBLIC_FUNCTIONS
]


def _agree(schema: dict[str, Any], value: Any) -> None:
    check = compile_check(schema)
    assert check is not None
    assert check(value) == SieveValidator(schema).is_valid(value), (schema, value)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SCHEMAS), VALUES)
def test_fast_check_agrees_with_jsonschema_on_any_value(schema: dict, value: Any) -> None:
    _agree(schema, value)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(PUBLIC_FUNCTIONS),
    st.dictionaries(
        st.sampled_from(
            ["text", "file", "source_file", "video", "url", "target_language", "overlap", "x"]
        ),
        st.one_of(VALUES, st.fixed_dictionaries({"url": SCALARS})),
        max_size=4,
    ),
)
def test_fast_check_agrees_on_job_inputs(slug: str, inputs: dict) -> None:
    _agree(schema_of(slug).inputs, inputs)


def test_keywords_outside_the_subset_fall_back_to_jsonschema() -> None:
    assert compile_check({"type": "string", "pattern": "^a"}) is None
    assert compile_check({"properties": {"a": {"format": "uri"}}}) is None


def test_json_equality_separates_booleans_from_numbers() -> None:
    assert json_equal(1, 1.0)
    assert not json_equal(True, 1)
    assert not json_equal([0], [False])
    assert json_equal({"a": [1, "x"]}, {"a": [1.0, "x"]})
