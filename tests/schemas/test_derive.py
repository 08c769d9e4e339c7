"""Metadata from `GET /v2/functions/{owner}/{name}` becomes a JSON Schema 2020-12 object schema."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from runner.errors import BackendError
from runner.schemas import derive_schema
from runner.schemas.derive import DEFAULT_UNKNOWN_KEY, UNKNOWN_TYPE_KEY
from runner.schemas.typestrings import file_schema
from tests.schemas.conftest import PUBLIC_FUNCTIONS, load_metadata, schema_of

# (required inputs, {optional input: default}) for each public function on the reference page.
EXPECTED: dict[str, tuple[list[str], dict[str, Any]]] = {
    "sieve/translate": (["text"], {"source": "auto", "target": "es", "backend": "seamless"}),
    "sieve/tiktoken": (["text"], {"encoding": "cl100k_base"}),
    "sieve/youtube_to_mp4": (
        ["url"],
        {"resolution": "highest-available", "include_audio": True},
    ),
    "sieve/demucs": (
        ["file"],
        {
            "model": "htdemucs_ft",
            "two_stems": "None",
            "overlap": 0.25,
            "shifts": 0,
            "audio_format": "wav",
        },
    ),
    "sieve/speech_transcriber": (
        ["file"],
        {
            "word_level_timestamps": True,
            "speaker_diarization": False,
            "speed_boost": False,
            "backend": "stable-ts",
            "source_language": "",
            "target_language": "",
            "min_speakers": -1,
            "max_speakers": -1,
            "min_silence_length": 0.4,
        },
    ),
    "sieve/text_to_video_lipsync": (
        ["source_video", "text"],
        {
            "lipsync_engine": "sievesync",
            "downsample_video": True,
            "voice_stability": 0.5,
            "voice_style": 0,
        },
    ),
    "sieve/mediapipe_face_detector": (
        ["file"],
        {"confidence_threshold": 0.5, "start_frame": 0, "end_frame": -1, "fps": -1},
    ),
    "sieve/pyscenedetect": (["video"], {"threshold": 27.0, "adaptive_threshold": False}),
    "sieve/dubbing": (
        ["source_file", "target_language"],
        {
            "voice_engine": "sieve-default-cloning",
            "translation_engine": "gpt4",
            "enable_lipsyncing": False,
            "preserve_background_audio": True,
            "safewords": "",
            "translation_dictionary": {},
            "start_time": 0,
            "end_time": -1,
        },
    ),
}


def test_every_public_function_has_a_fixture_and_an_expectation() -> None:
    assert sorted(EXPECTED) == PUBLIC_FUNCTIONS


@pytest.mark.parametrize("slug", PUBLIC_FUNCTIONS)
def test_public_function_derives_a_closed_2020_12_schema(slug: str) -> None:
    metadata = load_metadata(slug)
    schema = derive_schema(metadata)
    required, defaults = EXPECTED[slug]

    Draft202012Validator.check_schema(schema.inputs)
    assert schema.inputs["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema.inputs["type"] == "object"
    assert schema.inputs["additionalProperties"] is False
    assert schema.required == tuple(required)
    assert schema.version == metadata["latest_version"]["id"]
    assert schema.slug == slug
    assert list(schema.input_order) == [
        item["name"] for item in metadata["latest_version"]["inputs"]
    ]
    assert {
        name: prop["default"] for name, prop in schema.properties.items() if "default" in prop
    } == defaults
    assert schema.warnings == ()
    for item in metadata["latest_version"]["inputs"]:
        prop = schema.properties[item["name"]]
        assert prop["description"] == item["description"]
        assert prop["x-sieve-type"] == item["type"]
    assert [out.type for out in schema.outputs] == [
        item["type"] for item in metadata["latest_version"]["outputs"]
    ]


def test_file_inputs_become_url_or_path_objects() -> None:
    schema = schema_of("sieve/dubbing")
    source_file = schema.properties["source_file"]
    assert {key: source_file[key] for key in ("type", "properties", "anyOf")} == {
        key: file_schema()[key] for key in ("type", "properties", "anyOf")
    }


def test_the_sdks_literal_options_become_enums() -> None:
    # The fixtures send what the SDK uploads: `"type": "Literal"`, `schema.options`.
    assert schema_of("sieve/demucs").properties["audio_format"]["enum"] == ["wav", "mp3", "flac"]
    encoding = schema_of("sieve/tiktoken").properties["encoding"]
    assert encoding["enum"] == ["cl100k_base", "p50k_edit", "p50k_base", "r50k_base", "gpt2"]
    assert encoding["default"] == "cl100k_base"


def test_typing_dict_is_an_object_with_its_default() -> None:
    prop = schema_of("sieve/dubbing").properties["translation_dictionary"]
    assert prop["type"] == "object"
    assert prop["default"] == {}


def _metadata(*inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "custom",
        "owner_name": "acme",
        "latest_version": {"id": "v1", "inputs": list(inputs), "outputs": []},
    }


def _input(name: str, type_: str, data: Any = None, optional: bool = False) -> dict[str, Any]:
    return {
        "type": type_,
        "name": name,
        "data": data,
        "description": "",
        "schema": {},
        "run_id": None,
        "is_optional": optional,
    }


def test_older_audio_type_string_is_a_file() -> None:
    schema = derive_schema(_metadata(_input("audio", "sieve.types.file.Audio")))
    assert schema.properties["audio"]["anyOf"] == file_schema()["anyOf"]
    assert schema.properties["audio"]["x-sieve-type"] == "sieve.types.file.Audio"


def test_unknown_types_are_accepted_and_reported() -> None:
    schema = derive_schema(
        _metadata(_input("blob", "numpy.ndarray"), _input("frames", "List[cv2.Mat]"))
    )
    assert schema.properties["blob"][UNKNOWN_TYPE_KEY] is True
    assert "type" not in schema.properties["blob"]
    assert schema.properties["frames"]["type"] == "array"
    assert schema.warnings == (
        "input 'blob': unknown type 'numpy.ndarray'; accepted unchecked",
        "input 'frames': unknown type 'cv2.Mat' in 'List[cv2.Mat]'; accepted unchecked",
    )


def test_json_encoded_default_is_decoded() -> None:
    schema = derive_schema(_metadata(_input("count", "int", "3", optional=True)))
    assert schema.properties["count"]["default"] == 3


def test_a_plain_default_field_makes_an_input_optional_with_that_default() -> None:
    # sieve-api.md: "An implementation may also send a plain JSON `default` field: use it
    # when present." Without `is_optional` the input came out required, its default lost.
    item = {"name": "mode", "type": "str", "default": "x"}
    schema = derive_schema(_metadata(item, _input("text", "str")))
    assert schema.properties["mode"]["default"] == "x"
    assert schema.required == ("text",)


def test_undecodable_default_is_marked_unknown() -> None:
    schema = derive_schema(
        _metadata(
            _input("count", "int", "gASVBQAAAAAAAABLAy4=", optional=True),  # a pickle, say
            _input("mode", "Literal['a', 'b']", None, optional=True),
        )
    )
    for name in ("count", "mode"):
        assert "default" not in schema.properties[name]
        assert schema.properties[name][DEFAULT_UNKNOWN_KEY] is True
    assert schema.required == ()


def test_optional_none_default_is_kept_when_the_type_allows_null() -> None:
    schema = derive_schema(_metadata(_input("language", "Optional[str]", None, optional=True)))
    assert schema.properties["language"]["default"] is None


def test_duplicate_and_nameless_inputs_are_reported() -> None:
    schema = derive_schema(
        _metadata(_input("a", "str"), _input("a", "int"), {"type": "str", "name": ""})
    )
    assert list(schema.properties) == ["a"]
    assert schema.properties["a"]["type"] == "string"
    assert len(schema.warnings) == 2


@pytest.mark.parametrize(
    "broken",
    [
        {"owner_name": "acme", "latest_version": {"id": "v1"}},
        {"name": "x", "owner_name": "acme"},
        {"name": "x", "owner_name": "acme", "latest_version": {"id": "../../etc"}},
        {"name": "../x", "owner_name": "acme", "latest_version": {"id": "v1"}},
    ],
)
def test_metadata_without_identity_is_a_backend_error(broken: dict) -> None:
    with pytest.raises(BackendError):
        derive_schema(broken)


def test_derivation_is_deterministic() -> None:
    first = schema_of("sieve/speech_transcriber")
    second = schema_of("sieve/speech_transcriber")
    assert first.digest == second.digest
    changed = load_metadata("sieve/speech_transcriber")
    changed["latest_version"]["inputs"][1]["data"] = False
    assert derive_schema(changed).digest != first.digest


def test_local_backend_style_schemas_refine_bare_containers() -> None:
    """The local backend sends `list` / `dict` with a JSON Schema in `schema`."""
    tags = _input("tags", "list")
    tags["schema"] = {"type": "array", "items": {"type": "string"}}
    counts = _input("counts", "Optional[dict]", None, optional=True)
    counts["schema"] = {
        "type": "object",
        "additionalProperties": {"type": "integer"},
        "nullable": True,
    }
    mode = _input("mode", "Optional[Literal['fast', 'slow']]", None, optional=True)
    mode["schema"] = {"enum": ["fast", "slow"], "type": "string", "nullable": True}
    odd = _input("odd", "list")
    odd["schema"] = {"type": "array", "items": {"type": "string", "pattern": "^a"}}
    schema = derive_schema(_metadata(tags, counts, mode, odd))
    assert schema.properties["tags"]["items"] == {"type": "string"}
    assert schema.properties["counts"]["additionalProperties"] == {"type": "integer"}
    assert schema.properties["counts"]["default"] is None
    assert schema.properties["mode"]["enum"] == ["fast", "slow", None]
    assert schema.properties["mode"]["type"] == ["string", "null"]
    assert "items" not in schema.properties["odd"]  # a schema it cannot read exactly is unused


def test_unknown_type_input_accepts_any_value() -> None:
    from runner.schemas import check_inputs

    schema = derive_schema(_metadata(_input("blob", "numpy.ndarray")))
    for value in (1, "x", [1, 2], {"a": None}, None):
        assert check_inputs(schema, {"blob": value}) == []
    assert [p.input_path for p in check_inputs(schema, {})] == ["inputs.blob"]
