"""Command-line arguments of the API commands: function names and push inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.api_args import function_argument, parse_inputs
from runner.errors import ConfigError
from runner.manifest.model import FunctionRef


def test_values_are_json_when_they_parse_and_strings_otherwise() -> None:
    inputs = parse_inputs(
        ["n=3", "ratio=0.5", "flag=true", 'file={"url": "file:///a.mp4"}', "text=hello world", "q="]
    )
    assert inputs == {
        "n": 3,
        "ratio": 0.5,
        "flag": True,
        "file": {"url": "file:///a.mp4"},
        "text": "hello world",
        "q": "",
    }


def test_only_the_first_equals_sign_separates_name_and_value() -> None:
    assert parse_inputs(["expr=a=b"]) == {"expr": "a=b"}


def test_an_assignment_without_a_name_is_a_usage_error() -> None:
    with pytest.raises(ConfigError, match="--input 'novalue' must look like name=value"):
        parse_inputs(["novalue"])


def test_an_input_file_is_overridden_by_assignments(tmp_path: Path) -> None:
    path = tmp_path / "inputs.json"
    path.write_text('{"duration": 1, "format": "mp4"}')
    assert parse_inputs(["duration=2"], path) == {"duration": 2, "format": "mp4"}


@pytest.mark.parametrize(
    ("content", "message"),
    [("[1, 2]", "expected a JSON object of inputs, got list"), ("{oops", "not valid JSON")],
)
def test_a_bad_input_file_is_a_located_usage_error(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "inputs.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message) as caught:
        parse_inputs([], path)
    assert str(path) in str(caught.value)


def test_function_arguments_parse_into_references() -> None:
    assert function_argument("sieve/dubbing") == FunctionRef("sieve", "dubbing")
    assert function_argument("sieve/dubbing:abc", allow_version=True) == FunctionRef(
        "sieve", "dubbing", "abc"
    )


@pytest.mark.parametrize(
    "text", ["dubbing", "/dubbing", "sieve/", "a/b/c", "sieve/dubbing:abc", "sieve/a b", "s/../x"]
)
def test_malformed_function_names_are_usage_errors(text: str) -> None:
    with pytest.raises(ConfigError, match="must look like owner/name"):
        function_argument(text)


@pytest.mark.parametrize("text", ["bad", "sieve/a:b:c", "sieve/:v"])
def test_malformed_versioned_function_names_are_usage_errors(text: str) -> None:
    with pytest.raises(ConfigError, match=r"must look like owner/name\[:version\]"):
        function_argument(text, allow_version=True)


def test_numbers_json_lacks_are_text_or_a_bad_file(tmp_path: Path) -> None:
    # `value=NaN` became a float that no push can carry: a traceback from the JSON encoder.
    assert parse_inputs(["a=NaN", "b=-Infinity", "c=1.5"]) == {
        "a": "NaN",
        "b": "-Infinity",
        "c": 1.5,
    }
    bad = tmp_path / "inputs.json"
    bad.write_text('{"value": NaN}')
    with pytest.raises(ConfigError, match="NaN is not a JSON number"):
        parse_inputs([], bad)
