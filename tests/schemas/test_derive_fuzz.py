"""Derivation never crashes on what a service might send, and its schemas stay valid 2020-12."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from runner.schemas import check_inputs, derive_schema

TYPE_PARTS = st.sampled_from(
    [
        "str",
        "int",
        "float",
        "bool",
        "list",
        "dict",
        "typing.Dict",
        "List",
        "Optional",
        "Union",
        "Literal",
        "sieve.File",
        "sieve.types.file.Audio",
        "numpy.ndarray",
        "Tuple",
        "Any",
        "None",
        "'a'",
        "1",
        "-2.5",
        "True",
        "...",
        "[",
        "]",
        ",",
        " | ",
        "(",
        ")",
        "<class",
        "lambda: 0",
        "__import__('os')",
    ]
)
TYPE_STRINGS = st.one_of(
    st.lists(TYPE_PARTS, min_size=1, max_size=6).map("".join),
    st.text(max_size=12),
    st.none(),
    st.integers(),
)
JSON = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5)
    ),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
ITEMS = st.fixed_dictionaries(
    {
        "name": st.one_of(
            st.sampled_from(["a", "b", "file", "text"]), st.text(max_size=4), st.none()
        )
    },
    optional={
        "type": TYPE_STRINGS,
        "data": JSON,
        "description": st.one_of(st.text(max_size=10), st.none(), st.integers()),
        "schema": st.one_of(
            st.none(),
            JSON,
            st.fixed_dictionaries({"enum": st.lists(JSON, max_size=3)}),
            st.fixed_dictionaries({"type": st.sampled_from(["array", "object"]), "items": JSON}),
        ),
        "is_optional": st.one_of(st.booleans(), st.none()),
    },
)


@settings(max_examples=200, deadline=None)
@given(inputs=st.lists(ITEMS, max_size=5), outputs=st.lists(ITEMS, max_size=2), values=JSON)
def test_any_metadata_derives_a_valid_schema(
    inputs: list[dict[str, Any]], outputs: list[dict[str, Any]], values: Any
) -> None:
    metadata = {
        "name": "fuzz",
        "owner_name": "acme",
        "latest_version": {"id": "v1", "inputs": inputs, "outputs": outputs},
    }
    schema = derive_schema(metadata)
    Draft202012Validator.check_schema(schema.inputs)
    assert set(schema.required) <= set(schema.properties)
    assert schema.digest == derive_schema(metadata).digest
    for problem in check_inputs(schema, values if isinstance(values, dict) else {"a": values}):
        assert problem.message
        assert problem.input_path.startswith("inputs")
