"""Command-line arguments: function names (`owner/name[:version]`) and push inputs
(`--input name=value`, `--input-file FILE`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from runner.errors import ConfigError
from runner.manifest.model import FunctionRef


def function_argument(text: str, *, allow_version: bool = False) -> FunctionRef:
    """The function a command-line argument names: `owner/name`, or `owner/name:version` when
    `allow_version`. Raises `ConfigError` (a usage error) for anything else."""
    try:
        ref = FunctionRef.parse(text.strip())
    except ValueError:
        ref = None
    if ref is None or (ref.version is not None and not allow_version):
        shape = "owner/name[:version]" if allow_version else "owner/name"
        raise ConfigError(f"function {text!r} must look like {shape}, e.g. sieve/dubbing")
    return ref


def parse_input_value(text: str) -> Any:
    """`text` as JSON when it parses (`3`, `true`, `{"url": "..."}`), else the string itself
    (`NaN` and `Infinity` too: JSON has no such numbers, so a push could not carry them)."""
    try:
        return _strict_json(text)
    except ValueError:
        return text


def _strict_json(text: str) -> Any:
    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not a JSON number")

    return json.loads(text, parse_constant=refuse)


def parse_inputs(assignments: Sequence[str], input_file: Path | None = None) -> dict[str, Any]:
    """The inputs object from `input_file` (a JSON object) updated with each `name=value`.

    Raises `ConfigError` naming the bad assignment or file.
    """
    inputs: dict[str, Any] = {}
    if input_file is not None:
        try:
            loaded = _strict_json(input_file.read_text(encoding="utf-8"))
        except OSError as error:
            raise ConfigError(f"--input-file {input_file}: {error.strerror}") from None
        except ValueError as error:
            raise ConfigError(f"--input-file {input_file}: not valid JSON: {error}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(
                f"--input-file {input_file}: expected a JSON object of inputs, "
                f"got {type(loaded).__name__}"
            )
        inputs.update(loaded)
    for assignment in assignments:
        name, separator, value = assignment.partition("=")
        if not separator or not name.strip():
            raise ConfigError(f"--input {assignment!r} must look like name=value")
        inputs[name.strip()] = parse_input_value(value)
    return inputs
