"""Real-world manifests for the public functions, validated against the schemas the local
backend serves (the public-functions test plugin, over a real socket): the good one passes,
each kind of bad input is caught with a located message."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

from runner.errors import SourceLocation
from runner.schemas import FunctionRef, FunctionSchema, pull_schemas, validate_job_inputs
from tests.schemas.conftest import http_fetcher

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

MANIFESTS = Path(__file__).resolve().parent.parent / "fixtures" / "manifests"


def _jobs(path: Path) -> dict[str, tuple[FunctionRef, dict[str, Any], SourceLocation]]:
    """Each job's function, inputs and the line of its table (the manifest loader's job later)."""
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    lines = path.read_text(encoding="utf-8").splitlines()
    jobs = {}
    for name, job in document["jobs"].items():
        line = lines.index(f"[jobs.{name}]") + 1
        location = SourceLocation(str(path), line, 1)
        ref = FunctionRef.parse(job["function"], location=location)
        jobs[name] = (ref, job["inputs"], location)
    return jobs


@pytest.fixture
def served_schemas(public_server, tmp_path: Path) -> dict[FunctionRef, FunctionSchema]:
    refs = [ref for path in MANIFESTS.glob("*.toml") for ref, _, _ in _jobs(path).values()]
    return asyncio.run(pull_schemas(refs, http_fetcher(public_server.url), tmp_path))


def _validate(path: Path, schemas: dict[FunctionRef, FunctionSchema]) -> list[str]:
    messages = []
    for job, (ref, inputs, location) in _jobs(path).items():
        errors = validate_job_inputs(schemas[ref], inputs, job=job, location=location)
        messages.extend(str(error) for error in errors)
    return messages


def test_good_manifest_passes(served_schemas) -> None:
    assert _validate(MANIFESTS / "public_good.toml", served_schemas) == []


def test_each_kind_of_bad_input_is_caught_and_located(served_schemas) -> None:
    path = MANIFESTS / "public_bad.toml"
    file_phrase = 'a file ({"url": "..."} or {"path": "..."})'
    assert _validate(path, served_schemas) == [
        f"{path}:5:1: job 'misspelled', inputs.target_language: missing required input of "
        "sieve/dubbing: expected a string",
        f"{path}:5:1: job 'misspelled', inputs.tagret_language: unknown input of sieve/dubbing "
        "(did you mean 'target_language'?)",
        f"{path}:9:1: job 'missing', inputs.text: missing required input of sieve/translate: "
        "expected a string",
        f"{path}:13:1: job 'wrong_type', inputs.min_speakers: expected an integer, got \"two\"",
        f"{path}:17:1: job 'not_a_bool', inputs.include_audio: expected true or false, got \"yes\"",
        f"{path}:21:1: job 'not_a_choice', inputs.resolution: expected one of "
        '"highest-available", "lowest-available", "1080p", "720p", "480p", "360p", "240p", '
        '"144p", got "720" (did you mean \'720p\'?)',
        f"{path}:25:1: job 'not_an_int', inputs.shifts: expected an integer, got 1.5",
        f"{path}:29:1: job 'bool_for_float', inputs.threshold: expected a number, got true",
        f"{path}:33:1: job 'file_as_string', inputs.file: expected {file_phrase}, got "
        '"https://example.com/group.jpg" (write it as { url = "https://example.com/group.jpg" })',
        f"{path}:37:1: job 'file_key_misspelled', inputs.source_video: expected {file_phrase}, "
        "got a dict with keys \"ulr\" (did you mean 'url'?)",
        f"{path}:41:1: job 'empty_url', inputs.source_file.url: expected a non-empty string, "
        "got an empty one",
        f"{path}:45:1: job 'list_for_dict', inputs.translation_dictionary: expected a dict, "
        "got a list of 1 item",
        f"{path}:49:1: job 'wrong_encoding', inputs.encoding: expected one of \"cl100k_base\", "
        '"p50k_edit", "p50k_base", "r50k_base", "gpt2", got "cl100k" (did you mean '
        "'cl100k_base'?)",
    ]
