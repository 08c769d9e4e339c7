"""Job inputs checked against derived schemas: good inputs pass, every kind of bad input is
caught with a message naming the input path, what was expected and what was got."""

from __future__ import annotations

from typing import Any

import pytest

from runner.errors import SourceLocation, ValidationError
from runner.schemas import (
    check_inputs,
    compile_schema,
    ensure_valid_inputs,
    format_input_path,
    validate_job_inputs,
)
from tests.schemas.conftest import schema_of

VIDEO = {"url": "https://example.com/interview.mp4"}

GOOD_INPUTS: list[tuple[str, dict[str, Any]]] = [
    ("sieve/translate", {"text": "Hola", "target": "fr"}),
    ("sieve/tiktoken", {"text": "hello", "encoding": "gpt2"}),
    ("sieve/youtube_to_mp4", {"url": "https://youtu.be/xyz", "resolution": "720p"}),
    ("sieve/youtube_to_mp4", {"url": "https://youtu.be/xyz", "include_audio": False}),
    ("sieve/demucs", {"file": {"path": "/tmp/song.wav"}, "overlap": 1, "shifts": 2}),
    ("sieve/demucs", {"file": VIDEO, "two_stems": "None", "audio_format": "flac"}),
    (
        "sieve/speech_transcriber",
        {"file": VIDEO, "source_language": "en", "min_speakers": 2, "min_silence_length": 0.2},
    ),
    ("sieve/text_to_video_lipsync", {"source_video": VIDEO, "text": "hi", "voice_style": 0.3}),
    ("sieve/mediapipe_face_detector", {"file": VIDEO, "confidence_threshold": 0.7, "fps": 5}),
    ("sieve/pyscenedetect", {"video": VIDEO, "threshold": 30, "adaptive_threshold": True}),
    (
        "sieve/dubbing",
        {
            "source_file": VIDEO,
            "target_language": "spanish",
            "translation_dictionary": {"Sieve": "Sieve"},
            "end_time": 12.5,
        },
    ),
]


@pytest.mark.parametrize(("slug", "inputs"), GOOD_INPUTS)
def test_good_inputs_pass(slug: str, inputs: dict[str, Any]) -> None:
    assert check_inputs(schema_of(slug), inputs) == []
    assert validate_job_inputs(schema_of(slug), inputs, job="j") == []


BAD_INPUTS: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "sieve/dubbing",
        {"source_file": VIDEO, "target_language": "es", "tagret_language": "fr"},
        "inputs.tagret_language",
        "unknown input of sieve/dubbing (did you mean 'target_language'?)",
    ),
    (
        "sieve/translate",
        {"text": "x", "zzz": 1},
        "inputs.zzz",
        "unknown input of sieve/translate; expected one of: text, source, target, backend",
    ),
    (
        "sieve/dubbing",
        {"source_file": VIDEO},
        "inputs.target_language",
        "missing required input of sieve/dubbing: expected a string",
    ),
    (
        "sieve/demucs",
        {},
        "inputs.file",
        'missing required input of sieve/demucs: expected a file ({"url": "..."} or '
        '{"path": "..."})',
    ),
    (
        "sieve/translate",
        {"text": 42},
        "inputs.text",
        "expected a string, got 42",
    ),
    (
        "sieve/demucs",
        {"file": VIDEO, "shifts": 2.5},
        "inputs.shifts",
        "expected an integer, got 2.5",
    ),
    (
        "sieve/demucs",
        {"file": VIDEO, "shifts": True},
        "inputs.shifts",
        "expected an integer, got true",
    ),
    (
        "sieve/demucs",
        {"file": VIDEO, "overlap": False},
        "inputs.overlap",
        "expected a number, got false",
    ),
    (
        "sieve/demucs",
        {"file": VIDEO, "overlap": float("nan")},
        "inputs.overlap",
        "expected a number, got nan",
    ),
    (
        "sieve/youtube_to_mp4",
        {"url": "u", "include_audio": "yes"},
        "inputs.include_audio",
        'expected true or false, got "yes"',
    ),
    (
        "sieve/youtube_to_mp4",
        {"url": "u", "resolution": "720"},
        "inputs.resolution",
        'expected one of "highest-available", "lowest-available", "1080p", "720p", "480p", '
        '"360p", "240p", "144p", got "720" (did you mean \'720p\'?)',
    ),
    (
        "sieve/tiktoken",
        {"text": "t", "encoding": "cl100k"},
        "inputs.encoding",
        'expected one of "cl100k_base", "p50k_edit", "p50k_base", "r50k_base", "gpt2", '
        "got \"cl100k\" (did you mean 'cl100k_base'?)",
    ),
    (
        "sieve/dubbing",
        {"source_file": "https://example.com/a.mp4", "target_language": "es"},
        "inputs.source_file",
        'expected a file ({"url": "..."} or {"path": "..."}), got "https://example.com/a.mp4" '
        '(write it as { url = "https://example.com/a.mp4" })',
    ),
    (
        "sieve/dubbing",
        {"source_file": {"ulr": "https://example.com/a.mp4"}, "target_language": "es"},
        "inputs.source_file",
        'expected a file ({"url": "..."} or {"path": "..."}), got a dict with keys "ulr" '
        "(did you mean 'url'?)",
    ),
    (
        "sieve/dubbing",
        {"source_file": {"url": 5}, "target_language": "es"},
        "inputs.source_file.url",
        "expected a non-empty string, got 5",
    ),
    (
        "sieve/dubbing",
        {"source_file": {"url": ""}, "target_language": "es"},
        "inputs.source_file.url",
        "expected a non-empty string, got an empty one",
    ),
    (
        "sieve/dubbing",
        {"source_file": VIDEO, "target_language": "es", "translation_dictionary": ["a"]},
        "inputs.translation_dictionary",
        "expected a dict, got a list of 1 item",
    ),
]


@pytest.mark.parametrize(("slug", "inputs", "path", "message"), BAD_INPUTS)
def test_bad_input_is_caught_with_a_clear_message(
    slug: str, inputs: dict[str, Any], path: str, message: str
) -> None:
    problems = check_inputs(schema_of(slug), inputs)
    assert [(p.input_path, p.message) for p in problems] == [(path, message)]


def test_every_problem_is_reported_in_signature_order() -> None:
    problems = check_inputs(
        schema_of("sieve/speech_transcriber"),
        {"min_silence_length": "long", "speaker_diarisation": True, "backend": 1},
    )
    assert [p.input_path for p in problems] == [
        "inputs.file",
        "inputs.backend",
        "inputs.min_silence_length",
        "inputs.speaker_diarisation",
    ]
    assert "did you mean 'speaker_diarization'?" in problems[-1].message


def test_inputs_that_are_not_a_table() -> None:
    problems = check_inputs(schema_of("sieve/translate"), ["hello"])
    assert [str(p) for p in problems] == ["inputs: expected a dict of inputs, got a list of 1 item"]


def test_validation_errors_are_located() -> None:
    location = SourceLocation("manifests/podcast.toml", 14, 1)
    closer = SourceLocation("manifests/podcast.toml", 16, 1)
    errors = validate_job_inputs(
        schema_of("sieve/dubbing"),
        {"source_file": VIDEO, "target_language": "es", "tagret_language": "fr", "end_time": "x"},
        job="dub[episode=0,lang=spanish]",
        location=location,
        locate=lambda path: closer if path == ("tagret_language",) else None,
    )
    assert [str(error) for error in errors] == [
        "manifests/podcast.toml:14:1: job 'dub[episode=0,lang=spanish]', inputs.end_time: "
        'expected a number, got "x"',
        "manifests/podcast.toml:16:1: job 'dub[episode=0,lang=spanish]', "
        "inputs.tagret_language: unknown input of sieve/dubbing (did you mean 'target_language'?)",
    ]
    assert all(isinstance(error, ValidationError) for error in errors)
    assert errors[1].input_path == "inputs.tagret_language"


def test_secrets_are_redacted_from_messages() -> None:
    secret = "sk-live-123456"
    errors = validate_job_inputs(
        schema_of("sieve/translate"),
        {"text": "x", "target": 7, "source": [secret]},
        redact=lambda text: text.replace(secret, "***"),
    )
    assert errors
    assert all(secret not in str(error) for error in errors)
    errors = validate_job_inputs(
        schema_of("sieve/tiktoken"),
        {"text": "x", "encoding": secret},
        redact=lambda text: text.replace(secret, "***"),
    )
    assert '"***"' in str(errors[0])
    assert secret not in str(errors[0])


def test_ensure_valid_inputs_raises_one_error_listing_all_problems() -> None:
    schema = schema_of("sieve/translate")
    ensure_valid_inputs(schema, {"text": "ok"})
    with pytest.raises(ValidationError) as one:
        ensure_valid_inputs(schema, {"text": 1}, job="summary")
    assert str(one.value) == "job 'summary', inputs.text: expected a string, got 1"
    with pytest.raises(ValidationError) as many:
        ensure_valid_inputs(schema, {"text": 1, "targt": "fr"}, job="summary")
    assert str(many.value) == (
        "job 'summary': 2 inputs of sieve/translate are invalid:\n"
        "  inputs.text: expected a string, got 1\n"
        "  inputs.targt: unknown input of sieve/translate (did you mean 'target'?)"
    )


def test_validator_is_compiled_once_per_schema() -> None:
    assert compile_schema(schema_of("sieve/demucs")) is compile_schema(schema_of("sieve/demucs"))
    assert compile_schema(schema_of("sieve/demucs")) is not compile_schema(
        schema_of("sieve/translate")
    )


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ((), "inputs"),
        (("file", "url"), "inputs.file.url"),
        (("frames", 3), "inputs.frames[3]"),
        (("dictionary", "two words"), 'inputs.dictionary["two words"]'),
    ],
)
def test_input_paths(path: tuple, text: str) -> None:
    assert format_input_path(path) == text


def test_pending_inputs_are_not_judged_until_resolved() -> None:
    """`inputs.file = "${{ jobs.fetch.outputs[0] }}"`: static validation skips its value."""
    schema = schema_of("sieve/speech_transcriber")
    template = object()  # stands for the loader's unresolved reference
    inputs = {"file": template, "source_language": 3, "speker_diarization": template}
    problems = check_inputs(schema, inputs, pending=["file", "speker_diarization"])
    assert [(p.input_path, p.kind) for p in problems] == [
        ("inputs.source_language", "invalid"),
        ("inputs.speker_diarization", "unknown"),
    ]
    # A required input that is simply absent (not pending) is reported.
    assert [p.kind for p in check_inputs(schema, {})] == ["missing"]
    # After resolution the value is checked like any other.
    assert [p.input_path for p in check_inputs(schema, {"file": {"url": ""}})] == [
        "inputs.file.url"
    ]
    dubbing = schema_of("sieve/dubbing")
    nested = {"source_file": {"url": template}, "target_language": "es"}
    assert check_inputs(dubbing, nested, pending=[("source_file", "url")]) == []
