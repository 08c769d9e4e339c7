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
