"""`--var` / `--vars-file` parsing and durations."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from runner import format_duration, parse_duration
from runner.errors import ConfigError
from runner.manifest import parse_var_options
from runner.manifest.variables import collect_variables, read_vars_file


def test_var_values_are_json_when_they_parse() -> None:
    assert parse_var_options(["a=french", "n=3", 'l=["x", 1]', "t=true", "s=", "e=a=b"]) == {
        "a": "french",
        "n": 3,
        "l": ["x", 1],
        "t": True,
        "s": "",
        "e": "a=b",
    }


@pytest.mark.parametrize("option", ["novalue", "=x", "two words=1", "1x=2"])
def test_bad_var_options(option: str) -> None:
    with pytest.raises(ConfigError, match="expected NAME=VALUE"):
        parse_var_options([option])


def test_vars_files_toml_json_and_precedence(tmp_path: Path) -> None:
    toml_file = tmp_path / "a.toml"
    toml_file.write_text('[vars]\nlang = "fr"\nn = 1\n')
    json_file = tmp_path / "b.json"
    json_file.write_text('{"n": 2, "files": ["x"]}')
    assert read_vars_file(toml_file) == {"lang": "fr", "n": 1}
    assert collect_variables(["lang=de"], [toml_file, json_file]) == {
        "lang": "de",
        "n": 2,
        "files": ["x"],
    }


def test_bad_vars_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read it"):
        read_vars_file(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("a = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        read_vars_file(broken)
    array = tmp_path / "array.json"
    array.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="expected a JSON object of vars"):
        read_vars_file(array)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("45s", 45), ("30m", 1800), ("1h30m", 5400), ("1.5h", 5400), ("2d", 172800), ("500ms", 0.5)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "m", "1h 30m", "-5s", "30 minutes", "1x"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(text)


def test_numbers_are_seconds_and_cannot_be_negative() -> None:
    assert parse_duration(90) == 90.0
    with pytest.raises(ValueError, match="cannot be negative"):
        parse_duration(-1)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(5400, "1h30m"), (45, "45s"), (0.5, "500ms"), (0, "0s"), (90061, "1d1h1m1s")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "written", [math.nan, math.inf, 10**400, "9" * 400 + "s"], ids=["nan", "inf", "int", "text"]
)
def test_durations_that_are_not_finite_are_refused(written: object) -> None:
    # They passed the checks and broke `plan` (a NaN has no round number of seconds).
    with pytest.raises(ValueError, match="a duration must be a finite number of seconds"):
        parse_duration(written)  # type: ignore[arg-type]
