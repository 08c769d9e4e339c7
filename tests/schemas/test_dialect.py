"""The live service's dialect of function metadata, as the official SDK uploads it: choices
(`"type": "Literal"` + `schema.options`, `Literal[...]` strings, `schema.enum`, an item's
`enum`), pickled and plain JSON defaults, and Pydantic-model inputs as nested schemas."""

from __future__ import annotations

import base64
import os
import pickle
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from runner.schemas import check_inputs, derive_schema
from runner.schemas.defaults import encode_pickled
from runner.schemas.derive import DEFAULT_UNKNOWN_KEY, UNKNOWN_TYPE_KEY
from tests.schemas.conftest import schema_of


def _metadata(*inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "custom",
        "owner_name": "acme",
        "latest_version": {"id": "v1", "inputs": list(inputs), "outputs": []},
    }


def _item(name: str, type_: str, schema: Any = None, **extra: Any) -> dict[str, Any]:
    item = {"type": type_, "name": name, "data": None, "description": "", "schema": schema}
    item.update(run_id=None, is_optional=False)
    item.update(extra)
    return item


def _messages(schema: Any, inputs: dict[str, Any]) -> list[str]:
    return [str(problem) for problem in check_inputs(schema, inputs)]


@pytest.mark.parametrize(
    "item",
    [
        _item("mode", "Literal", {"options": ["fast", "slow"]}),
        _item("mode", "Literal['fast', 'slow']"),
        _item("mode", "typing.Literal['fast', 'slow']", {}),
        _item("mode", "str", {"enum": ["fast", "slow"]}),
        _item("mode", "str", None, enum=["fast", "slow"]),
    ],
    ids=["sdk-options", "type-string", "typing-prefix", "schema-enum", "item-enum"],
)
def test_every_spelling_of_choices_is_an_enum(item: dict[str, Any]) -> None:
    schema = derive_schema(_metadata(item))
    prop = schema.properties["mode"]
    assert prop["enum"] == ["fast", "slow"]
    assert prop["type"] == "string"
    assert UNKNOWN_TYPE_KEY not in prop
    assert schema.warnings == ()
    assert _messages(schema, {"mode": "slow"}) == []
    assert _messages(schema, {"mode": "fats"}) == [
        'inputs.mode: expected one of "fast", "slow", got "fats" (did you mean \'fast\'?)'
    ]


def test_mixed_type_options() -> None:
    item = _item("level", "Literal", {"options": ["None", 1, True, None, 1]})
    schema = derive_schema(_metadata(item))
    # Deduplicated, but True (== 1 in Python) is a choice of its own.
    assert schema.properties["level"]["enum"] == ["None", 1, True, None]
    Draft202012Validator.check_schema(schema.inputs)
    for good in ("None", 1, True, None):
        assert _messages(schema, {"level": good}) == []
    # "None" the string is not null, and 1.0 is not the int 1 a Literal[1] receives.
    assert _messages(schema, {"level": "none"}) != []
    assert _messages(schema, {"level": 1.0}) != []
    assert _messages(schema, {"level": 2}) == [
        'inputs.level: expected one of "None", 1, true, null, got 2'
    ]


def test_demucs_bad_choice_names_the_options() -> None:
    schema = schema_of("sieve/demucs")
    assert _messages(schema, {"file": {"url": "https://x/a.wav"}, "model": "nope"}) == [
        'inputs.model: expected one of "htdemucs", "htdemucs_ft", "htdemucs_6s", '
        '"hdemucs_mmi", "mdx", "mdx_extra", "mdx_q", "mdx_extra_q", got "nope"'
    ]
    assert _messages(schema, {"file": {"url": "https://x/a.wav"}, "two_stems": "vocal"}) == [
        'inputs.two_stems: expected one of "None", "vocals", "drums", "bass", "other", '
        "got \"vocal\" (did you mean 'vocals'?)"
    ]


def test_bare_literal_without_options_is_unchecked_not_an_error() -> None:
    schema = derive_schema(_metadata(_item("mode", "Literal")))
    assert schema.properties["mode"][UNKNOWN_TYPE_KEY] is True
    assert _messages(schema, {"mode": 3}) == []


def test_options_that_are_not_scalars_are_ignored() -> None:
    schema = derive_schema(_metadata(_item("mode", "str", {"options": [{"a": 1}]})))
    assert schema.properties["mode"]["type"] == "string"
    assert "enum" not in schema.properties["mode"]


def test_pickled_defaults_are_decoded_for_every_public_function() -> None:
    demucs = schema_of("sieve/demucs").properties
    assert demucs["model"]["default"] == "htdemucs_ft"
    assert demucs["two_stems"]["default"] == "None"
    assert demucs["overlap"]["default"] == 0.25
    assert schema_of("sieve/dubbing").properties["translation_dictionary"]["default"] == {}


def test_pickled_string_default_is_not_taken_as_the_base64_text() -> None:
    item = _item("model", "str", data=encode_pickled("htdemucs_ft"), is_optional=True)
    prop = derive_schema(_metadata(item)).properties["model"]
    assert prop["default"] == "htdemucs_ft"


class _Command:
    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, ("echo pwned",))


def test_pickled_object_default_is_known_to_exist_but_not_its_value() -> None:
    # A pickle that names a callable (here os.system) is never loaded.
    raw = base64.b64encode(pickle.dumps(_Command(), protocol=5)).decode()
    item = _item("mode", "str", data=raw, is_optional=True)
    prop = derive_schema(_metadata(item)).properties["mode"]
    assert "default" not in prop
    assert prop[DEFAULT_UNKNOWN_KEY] is True


def test_a_plain_json_default_field_is_used() -> None:
    items = [
        _item("mode", "Literal", {"options": ["a", "b"]}, default="b", is_optional=True),
        # A None default of a non-Optional type is what the function really has.
        _item("name", "str", default=None, is_optional=True),
        _item("size", "int", data=encode_pickled(4), default=5, is_optional=True),
    ]
    props = derive_schema(_metadata(*items)).properties
    assert props["mode"]["default"] == "b"
    assert props["name"]["default"] is None
    assert props["size"]["default"] == 5


MODEL_SCHEMA = {
    "name": {"title": "Name", "type": "string"},
    "count": {"type": "integer"},
    "ratio": {"type": "number"},
    "tags": {"type": "array", "items": {"type": "string"}},
    "box": {
        "type": "object",
        "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
    },
    "mode": {"type": "string", "enum": ["fast", "slow"]},
    "ref": {"type": "Other", "$ref": "#/$defs/Other"},
}


def test_a_pydantic_model_input_is_a_nested_schema() -> None:
    item = _item("settings", "<class 'main.Settings'>", MODEL_SCHEMA)
    schema = derive_schema(_metadata(item))
    prop = schema.properties["settings"]
    Draft202012Validator.check_schema(prop)
    assert schema.warnings == ()
    assert UNKNOWN_TYPE_KEY not in prop
    assert prop["type"] == "object"
    assert prop["properties"]["tags"] == {"type": "array", "items": {"type": "string"}}
    assert prop["properties"]["box"]["properties"]["x"] == {"type": "number"}
    assert prop["properties"]["mode"] == {"enum": ["fast", "slow"], "type": "string"}
    assert prop["properties"]["ref"] == {}
    good = {"name": "a", "count": 2, "tags": ["x"], "box": {"x": 1, "y": 2.5}, "ref": [1]}
    assert _messages(schema, {"settings": good}) == []
    assert _messages(schema, {"settings": {**good, "count": "two"}}) == [
        'inputs.settings.count: expected an integer, got "two"'
    ]
    assert _messages(schema, {"settings": {**good, "box": {"x": "left"}}}) == [
        'inputs.settings.box.x: expected a number, got "left"'
    ]
    assert _messages(schema, {"settings": {**good, "tags": [1]}}) == [
        "inputs.settings.tags[0]: expected a string, got 1"
    ]
    assert _messages(schema, {"settings": {**good, "mode": "quick"}}) == [
        'inputs.settings.mode: expected one of "fast", "slow", got "quick"'
    ]
    assert _messages(schema, {"settings": "a string"}) == [
        'inputs.settings: expected a dict, got "a string"'
    ]


def test_file_inputs_keep_their_file_schema_despite_the_model_map() -> None:
    item = _item("file", "sieve.File", {"url": {"title": "Url", "type": "string"}})
    prop = derive_schema(_metadata(item)).properties["file"]
    assert prop["anyOf"] == [{"required": ["url"]}, {"required": ["path"]}]
