"""Arguments of the API commands: function names (`owner/name[:version]`) and push inputs
(`--input name=value`, `--input-file FILE`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from runner.errors import ConfigError


def split_function_name(text: str, *, allow_version: bool = False) -> tuple[str, str]:
    """`(owner, name)` from `owner/name` (or `owner/name:version` when `allow_version`; the
    version stays on the name). Raises `ConfigError` for anything else."""
    owner, slash, name = text.partition("/")
    bare_name = name.partition(":")[0] if allow_version else name
    if (
        not slash
        or not owner
        or not bare_name
        or "/" in name
        or (":" in name and not allow_version)
    ):
        shape = "owner/name[:version]" if allow_version else "owner/name"
        raise ConfigError(f"function {text!r} must look like {shape}, e.g. sieve/dubbing")
    return owner, name


def parse_input_value(text: str) -> Any:
    """`text` as JSON when it parses (`3`, `true`, `{"url": "..."}`), else the string itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_inputs(assignments: Sequence[str], input_file: Path | None = None) -> dict[str, Any]:
    """The inputs object from `input_file` (a JSON object) updated with each `name=value`.

    Raises `ConfigError` naming the bad assignment or file.
    """
    inputs: dict[str, Any] = {}
    if input_file is not None:
        try:
            loaded = json.loads(input_file.read_text(encoding="utf-8"))
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
