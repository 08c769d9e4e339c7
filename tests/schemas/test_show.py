"""`sievefile schemas show` and `schemas list`: readable tables from the cache alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from runner.cli import cli
from runner.schemas import SchemaCache, derive_schema
from runner.schemas.show import UNKNOWN_DEFAULT, input_rows
from tests.schemas.conftest import PUBLIC_FUNCTIONS, load_metadata, schema_of


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    cache = SchemaCache(tmp_path / "schemas")
    for slug in PUBLIC_FUNCTIONS:
        cache.write(schema_of(slug))
    return cache.root


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": "160"})


def test_rows_follow_the_signature() -> None:
    rows = input_rows(schema_of("sieve/demucs"))
    assert [row.name for row in rows] == [
        "file",
        "model",
        "two_stems",
        "overlap",
        "shifts",
        "audio_format",
    ]
    file_row, model_row = rows[0], rows[1]
    assert (file_row.type, file_row.required, file_row.default) == ("sieve.File", True, "")
    assert (model_row.type, model_row.required, model_row.default) == (
        "choice",
        False,
        '"htdemucs_ft"',
    )
    assert 'choices: "htdemucs" | "htdemucs_ft"' in model_row.description


def test_show_prints_a_table_of_inputs(cache_dir: Path) -> None:
    result = _invoke("schemas", "show", "sieve/speech_transcriber", "--schemas-dir", str(cache_dir))
    assert result.exit_code == 0, result.output
    version = schema_of("sieve/speech_transcriber").version
    assert f"sieve/speech_transcriber:{version}" in result.output
    lines = result.output.splitlines()
    file_line = next(line for line in lines if "│ file " in line)
    assert "sieve.File" in file_line
    assert "yes" in file_line
    silence = next(line for line in lines if "min_silence_length" in line)
    assert "float" in silence
    assert "0.4" in silence
    assert "Silence (seconds) that splits segments." in silence
    assert "outputs: output_0 (dict)" in result.output


def test_show_with_a_version(cache_dir: Path) -> None:
    version = schema_of("sieve/translate").version
    result = _invoke(
        "schemas", "show", f"sieve/translate:{version}", "--schemas-dir", str(cache_dir)
    )
    assert result.exit_code == 0
    assert '"seamless"' in result.output


def test_show_flags_unknown_types_and_unknown_defaults(tmp_path: Path) -> None:
    metadata = load_metadata("sieve/translate")
    metadata["latest_version"]["inputs"][1]["type"] = "numpy.ndarray"
    metadata["latest_version"]["inputs"][2]["data"] = {"not": "a string"}
    SchemaCache(tmp_path).write(derive_schema(metadata))
    result = _invoke("schemas", "show", "sieve/translate", "--schemas-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "unknown type: unchecked" in result.output
    assert UNKNOWN_DEFAULT in result.output
    assert (
        "warning: input 'source': unknown type 'numpy.ndarray'; accepted unchecked" in result.output
    )


def test_show_of_an_uncached_function_is_a_clear_error(cache_dir: Path) -> None:
    result = _invoke("schemas", "show", "sieve/dubing", "--schemas-dir", str(cache_dir))
    assert result.exit_code == 2
    assert "error: no cached schema for sieve/dubing" in result.output
    assert "(did you mean 'sieve/dubbing'" in result.output
    assert "Traceback" not in result.output
    result = _invoke("schemas", "show", "not-a-ref", "--schemas-dir", str(cache_dir))
    assert result.exit_code == 2  # a malformed argument is a usage error, as for `push`
    assert "error: function 'not-a-ref' must look like owner/name[:version]" in result.output


def test_list_prints_every_cached_version(cache_dir: Path) -> None:
    result = _invoke("schemas", "list", "--schemas-dir", str(cache_dir))
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        f"{slug}:{schema_of(slug).version}" for slug in PUBLIC_FUNCTIONS
    ]
