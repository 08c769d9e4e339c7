"""Hostile manifests through the CLI: huge matrices, deep nesting, 10 MB strings, bytes that
are not UTF-8. Each is a located, clear error (or simply works), never a traceback or a hang."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from runner.cli import cli

HEAD = 'version = 1\n[jobs.a]\nfunction = "local/echo"\n'


def _invoke(*arguments: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(arguments))
    # the CLI's own exits only: an exception that escaped would be a traceback for a user
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            HEAD
            + "matrix = { a = %s, b = %s, c = %s }\ninputs.value = '${{ matrix.a }}'\n"
            % ((list(range(2000)),) * 3),
            "the matrix expands to 8,000,000,000 instances (2000 x 2000 x 2000), more than "
            "max_instances = 1,000",
        ),
        (
            "version = 1\n[defaults]\nmax_instances = 1000000000000\n" + HEAD,
            "defaults.max_instances: expected at most 1000000",
        ),
        (HEAD + "inputs.value = " + "[" * 5000 + "]" * 5000 + "\n", "nest too deeply to read"),
        (HEAD + "inputs.value = " + "{a=" * 3000 + "1" + "}" * 3000 + "\n", "nest too deeply"),
        (
            HEAD + "inputs.value = " + "[" * 65 + "]" * 65 + "\n",
            "jobs.a.inputs.value: values nest more than 64 levels deep",
        ),
    ],
    ids=["matrix-of-8-billion", "max-instances-absurd", "deep-arrays", "deep-tables", "deep-65"],
)
def test_a_hostile_manifest_is_a_located_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "hostile.toml"
    path.write_text(text)
    for command in ("validate", "plan"):
        code, output = _invoke(command, str(path))
        assert code == 1, output
        assert f"{path.name}:" in output  # located in the file
        assert message in output


DEEP = "[" * 5000 + "1" + "]" * 5000  # past Python's recursion limit
DEEP_65 = "[" * 65 + "1" + "]" * 65
JSON_COLUMN = ', columns = { x = "json" }'


def _json_rows(value: str) -> str:
    return '[{"x": 1},\n {"x": ' + value + "}]"


def _jsonl_rows(value: str) -> str:
    return '{"x": 1}\n{"x": ' + value + "}\n"


def _csv_rows(value: str) -> str:
    return 'x\n1\n"' + value + '"\n'


@pytest.mark.parametrize(
    ("name", "text", "columns", "message"),
    [
        ("rows.json", _json_rows(DEEP), "", "rows.json:2: values nest too deeply"),
        ("rows.json", _json_rows(DEEP_65), "", "rows.json:2: column 'x': values nest"),
        ("rows.jsonl", _jsonl_rows(DEEP), "", "rows.jsonl:2: values nest too deeply"),
        ("rows.jsonl", _jsonl_rows(DEEP_65), "", "rows.jsonl:2: column 'x': values"),
        ("rows.csv", _csv_rows(DEEP), JSON_COLUMN, "rows.csv:3: column 'x': values nest too"),
        ("rows.csv", _csv_rows(DEEP_65), JSON_COLUMN, "rows.csv:3: column 'x': values nest more"),
    ],
    ids=["json", "json-65", "jsonl", "jsonl-65", "csv-json-cell", "csv-json-cell-65"],
)
def test_deep_values_in_a_data_file_are_a_located_error(
    tmp_path: Path, name: str, text: str, columns: str, message: str
) -> None:
    (tmp_path / name).write_text(text)
    path = tmp_path / "rows.toml"
    path.write_text(
        HEAD + f'matrix = {{ rows = "{name}"{columns} }}\ninputs.value = "${{{{ matrix.x }}}}"\n'
    )
    for command in ("validate", "plan"):
        code, output = _invoke(command, str(path))
        assert code == 1, output
        assert message in output


@pytest.mark.parametrize("value", [DEEP, DEEP_65], ids=["unreadable", "65"])
def test_deep_vars_from_the_command_line_are_a_clear_error(tmp_path: Path, value: str) -> None:
    path = tmp_path / "vars.toml"
    path.write_text("version = 1\n[vars]\nx = 1\n" + HEAD + 'inputs.value = "${{ vars.x }}"\n')
    vars_file = tmp_path / "vars.json"
    vars_file.write_text('{"x": ' + value + "}")
    for option in (["--var", f"x={value}"], ["--vars-file", str(vars_file)]):
        code, output = _invoke("validate", str(path), *option)
        assert code == 2, output
        assert "values nest" in output


def test_bytes_that_are_not_utf8_are_a_located_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(HEAD.encode() + b'inputs.value = "caf\xe9 \xff"\n')
    code, output = _invoke("validate", str(path))
    assert code == 1
    assert "the manifest is not UTF-8 text (invalid continuation byte at byte 64)" in output


def test_a_10_mb_string_runs_and_comes_back_whole(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    big = "x" * 10_000_000
    path.write_text(HEAD + f'inputs.value = "{big}"\n')
    code, output = _invoke("validate", str(path))
    assert code == 0, output[-500:]
    code, output = _invoke("run", str(path), "--local", "--json", "--progress", "none")
    assert code == 0, output[-500:]
    summary = json.loads(output[output.index("{") :])
    [job] = summary["jobs"]
    assert job["outputs"][0]["value"] == big  # nothing lost, nothing cut
