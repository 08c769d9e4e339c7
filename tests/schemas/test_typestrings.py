"""Sieve type strings map to JSON Schema; unknown ones are permissive and reported."""

from __future__ import annotations

import pytest

from runner.schemas.typestrings import file_schema, is_file_schema, schema_for_type


@pytest.mark.parametrize(
    ("type_string", "expected"),
    [
        ("str", {"type": "string"}),
        ("int", {"type": "integer"}),
        ("float", {"type": "number"}),
        ("bool", {"type": "boolean"}),
        ("list", {"type": "array"}),
        ("dict", {"type": "object"}),
        ("typing.Dict", {"type": "object"}),
        ("typing.List", {"type": "array"}),
        ("typing.Any", {}),
        ("List[int]", {"type": "array", "items": {"type": "integer"}}),
        ("typing.List[str]", {"type": "array", "items": {"type": "string"}}),
        ("list[float]", {"type": "array", "items": {"type": "number"}}),
        ("Dict[str, int]", {"type": "object", "additionalProperties": {"type": "integer"}}),
        ("typing.Optional[str]", {"type": ["string", "null"]}),
        ("str | None", {"type": ["string", "null"]}),
        ("Union[int, str]", {"type": ["integer", "string"]}),
        ("Literal['wav', 'mp3', 'flac']", {"enum": ["wav", "mp3", "flac"], "type": "string"}),
        ("typing.Literal[1, 2, -3]", {"enum": [1, 2, -3], "type": "integer"}),
        ("Optional[Literal['a']]", {"enum": ["a", None], "type": ["string", "null"]}),
        (
            "Literal['a', 1, True]",
            {"enum": ["a", 1, True], "type": ["string", "integer", "boolean"]},
        ),
        ("Tuple[int, ...]", {"type": "array", "items": {"type": "integer"}}),
        (
            "Tuple[int, str]",
            {
                "type": "array",
                "prefixItems": [{"type": "integer"}, {"type": "string"}],
                "items": False,
                "minItems": 2,
            },
        ),
        ("<class 'bool'>", {"type": "boolean"}),
    ],
)
def test_known_type_strings(type_string: str, expected: dict) -> None:
    mapping = schema_for_type(type_string)
    assert mapping.schema == expected
    assert mapping.unknown == []


@pytest.mark.parametrize(
    ("type_string", "canonical"),
    [
        ("sieve.File", "sieve.File"),
        ("sieve.Video", "sieve.Video"),
        ("sieve.Audio", "sieve.Audio"),
        ("sieve.Image", "sieve.Image"),
        ("sieve.types.file.Audio", "sieve.Audio"),
        ("sieve.types.file.File", "sieve.File"),
        ("<class 'sieve.types.file.Video'>", "sieve.Video"),
    ],
)
def test_file_types_are_objects_with_url_or_path(type_string: str, canonical: str) -> None:
    schema = schema_for_type(type_string).schema
    assert schema == file_schema(canonical)
    assert is_file_schema(schema)
    assert schema["anyOf"] == [{"required": ["url"]}, {"required": ["path"]}]


def test_optional_file_is_a_file_or_null() -> None:
    schema = schema_for_type("Optional[sieve.Video]").schema
    assert schema == {"anyOf": [file_schema("sieve.Video"), {"type": "null"}]}


@pytest.mark.parametrize(
    ("type_string", "unknown"),
    [
        ("sieve.Array", ["sieve.Array"]),
        ("numpy.ndarray", ["numpy.ndarray"]),
        ("List[foo.Bar]", ["foo.Bar"]),
        ("not a type (", ["not a type ("]),
        ("", ["''"]),
        ("Literal[os.sep]", ["Literal[os.sep]"]),
    ],
)
def test_unknown_type_strings_are_permissive_and_reported(type_string: str, unknown: list) -> None:
    mapping = schema_for_type(type_string)
    assert mapping.unknown == unknown
    # The unknown part accepts anything; known structure around it is kept.
    if type_string.startswith("List["):
        assert mapping.schema == {"type": "array", "items": {}}
    else:
        assert mapping.schema == {}


def test_non_string_type_is_unknown_not_a_crash() -> None:
    mapping = schema_for_type(None)
    assert mapping.schema == {}
    assert mapping.unknown == ["None"]
