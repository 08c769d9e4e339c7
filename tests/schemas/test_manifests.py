"""Real-world manifests for the public functions, loaded by the manifest loader and validated
against the schemas the local backend serves (the public-functions test plugin, over a real
socket): the good one passes, each kind of bad input is caught, located at the input itself."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from runner.manifest import build_plan, load_manifest
from runner.manifest.model import FunctionRef
from runner.schemas import FunctionSchema
from runner.schemas.jobs import manifest_schemas, static_input_errors
from tests.schemas.conftest import client_fetcher

MANIFESTS = Path(__file__).resolve().parent.parent / "fixtures" / "manifests"


@pytest.fixture
def served_schemas(public_server, tmp_path: Path) -> dict[FunctionRef, FunctionSchema]:
    schemas: dict[FunctionRef, FunctionSchema] = {}
    for path in MANIFESTS.glob("public_*.toml"):
        manifest = load_manifest(path)
        fetch = client_fetcher(public_server.url)
        schemas.update(asyncio.run(manifest_schemas(manifest, fetch, schemas_dir=tmp_path)))
    return schemas


def _validate(path: Path, schemas: dict[FunctionRef, FunctionSchema]) -> list[str]:
    plan = build_plan(load_manifest(path))
    return [str(error) for error in static_input_errors(plan, schemas)]


def test_good_manifest_passes(served_schemas) -> None:
    assert _validate(MANIFESTS / "public_good.toml", served_schemas) == []


def test_each_kind_of_bad_input_is_caught_and_located(served_schemas) -> None:
    path = MANIFESTS / "public_bad.toml"
    file_phrase = 'a file ({"url": "..."} or {"path": "..."})'
    assert _validate(path, served_schemas) == [
        f"{path}:7:1: job 'misspelled', inputs.target_language: missing required input of "
        "sieve/dubbing: expected a string",
        f"{path}:7:65: job 'misspelled', inputs.tagret_language: unknown input of sieve/dubbing "
        "(did you mean 'target_language'?)",
        f"{path}:11:1: job 'missing', inputs.text: missing required input of sieve/translate: "
        "expected a string",
        f"{path}:15:58: job 'wrong_type', inputs.min_speakers: expected an integer, got \"two\"",
        f"{path}:19:42: job 'not_a_bool', inputs.include_audio: expected true or false, "
        'got "yes"',
        f"{path}:23:42: job 'not_a_choice', inputs.resolution: expected one of "
        '"highest-available", "lowest-available", "1080p", "720p", "480p", "360p", "240p", '
        '"144p", got "720" (did you mean \'720p\'?)',
        f"{path}:27:61: job 'not_an_int', inputs.shifts: expected an integer, got 1.5",
        f"{path}:31:62: job 'bool_for_float', inputs.threshold: expected a number, got true",
        f"{path}:35:12: job 'file_as_string', inputs.file: expected {file_phrase}, got "
        '"https://example.com/group.jpg" (write it as { url = "https://example.com/group.jpg" })',
        f"{path}:39:12: job 'file_key_misspelled', inputs.source_video: expected {file_phrase}, "
        "got a dict with keys \"ulr\" (did you mean 'url'?)",
        f"{path}:43:28: job 'empty_url', inputs.source_file.url: expected a non-empty string, "
        "got an empty one",
        f"{path}:47:89: job 'list_for_dict', inputs.translation_dictionary: expected a dict, "
        "got a list of 1 item",
        f"{path}:51:28: job 'wrong_encoding', inputs.encoding: expected one of \"cl100k_base\", "
        '"p50k_edit", "p50k_base", "r50k_base", "gpt2", got "cl100k" (did you mean '
        "'cl100k_base'?)",
    ]
